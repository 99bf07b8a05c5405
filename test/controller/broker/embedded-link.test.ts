// The in-process link to the embedded broker keeps the ControllerLink contract: device messages
// routed by kind (held until a handler exists, a throwing handler counted, not fatal), retained
// publishes reach devices through their ACL, publish-only links subscribe to nothing, and
// close() detaches.
import t from 'tap';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '../../../controller/broker/embedded.js';
import { attachEmbeddedLink } from '../../../controller/broker/embedded-link.js';
import { deviceTopic } from '../../../shared/wire/topics.js';
import { waitFor } from '../../../harness/wait.js';

const broker = await startEmbeddedBroker({
  host: '127.0.0.1',
  port: 0,
  controllerSecret: 's3',
  authenticateDevice: (id, s) => (id === 'dev-1' || id === 'dev-2') && s === 'pw',
});
t.teardown(() => broker.close());
const url = `mqtt://127.0.0.1:${broker.port}`;
const device = async (id: string) => {
  const c = await mqtt.connectAsync(url, {
    clientId: id,
    username: id,
    password: 'pw',
    protocolVersion: 4,
  });
  t.teardown(() => c.endAsync());
  return c;
};
/**
 * Resolves once the broker has handed `payload` on `topic` to every subscriber: aedes emits
 * 'publish' after its dispatch to subscribers completed, and this link routes synchronously.
 */
const dispatched = (topic: string, payload: string) =>
  new Promise<void>((resolve) => {
    const seen = (packet: { topic: string; payload: Buffer | string }) => {
      if (packet.topic !== topic || packet.payload.toString() !== payload) return;
      broker.aedes.off('publish', seen);
      resolve();
    };
    broker.aedes.on('publish', seen);
  });

t.test('routes by kind, holds until a handler exists, publishes retained', async (t) => {
  const drops: string[] = [];
  const link = await attachEmbeddedLink(broker.aedes, {
    onDropped: (reason) => drops.push(reason),
  });
  t.teardown(() => link.close());
  const dev = await device('dev-1');
  const early = dispatched(deviceTopic('telemetry', 'dev-1'), 'early');
  await dev.publishAsync(deviceTopic('telemetry', 'dev-1'), 'early', { qos: 1 });
  await early;
  const got: string[] = [];
  link.on('telemetry', (id, payload) => void got.push(`${id}:${Buffer.from(payload).toString()}`));
  t.same(got, ['dev-1:early'], 'held until the handler came, handed to it at once');
  link.on('event', () => {
    throw new Error('handler bug');
  });
  t.throws(() => link.on('assignment', () => undefined), { code: 'BMF_ERR_INTERNAL' });
  await dev.publishAsync(deviceTopic('event', 'dev-1'), 'x', { qos: 1 });
  await dev.publishAsync(deviceTopic('telemetry', 'dev-1'), 'r1', { qos: 1 });
  await waitFor('r1 routed', () => got.length >= 2 && drops.length >= 1);
  t.same(got, ['dev-1:early', 'dev-1:r1'], 'a throwing handler does not break routing');
  t.same(drops, ['event'], 'the throw is counted');

  await link.publish(deviceTopic('assignment', 'dev-1'), Buffer.from('A1'), {
    qos: 1,
    retain: true,
  });
  const other = await device('dev-2');
  const seen: string[] = [];
  other.on('message', (topic, p) => seen.push(`${topic}=${p.toString()}`));
  await other.subscribeAsync(deviceTopic('assignment', 'dev-2'), { qos: 1 });
  const retained = new Promise<string>((resolve) =>
    dev.once('message', (_t, p) => resolve(p.toString())),
  );
  await dev.subscribeAsync(deviceTopic('assignment', 'dev-1'), { qos: 1 });
  t.equal(await retained, 'A1', 'the device receives its retained assignment');
  // Barrier: a message to dev-2 published now reaches it after anything sent to it before.
  await link.publish(deviceTopic('assignment', 'dev-2'), Buffer.from('marker'), { qos: 1 });
  await waitFor('the marker at dev-2', () => seen.length > 0);
  t.same(seen, [`${deviceTopic('assignment', 'dev-2')}=marker`], 'and no other device does');
});

t.test('publish-only links route nothing; close() detaches', async (t) => {
  const data = await attachEmbeddedLink(broker.aedes, { publishOnly: true });
  const main = await attachEmbeddedLink(broker.aedes);
  const got: string[] = [];
  data.on('telemetry', () => void got.push('data'));
  main.on('telemetry', () => void got.push('main'));
  const dev = await device('dev-1');
  const first = dispatched(deviceTopic('telemetry', 'dev-1'), 'r1');
  await dev.publishAsync(deviceTopic('telemetry', 'dev-1'), 'r1', { qos: 1 });
  await first;
  t.same(got, ['main'], 'routed once, by the main link');
  await main.close();
  const second = dispatched(deviceTopic('telemetry', 'dev-1'), 'r2');
  await dev.publishAsync(deviceTopic('telemetry', 'dev-1'), 'r2', { qos: 1 });
  await second;
  t.same(got, ['main'], 'nothing after close');
  await t.rejects(main.publish(deviceTopic('assignment', 'dev-1'), Buffer.from('x'), { qos: 0 }), {
    code: 'BMF_ERR_BROKER',
  });
  await data.close();
});
