import t from 'tap';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '../../../controller/broker/embedded.js';
import { CONTROLLER_USERNAME } from '../../../controller/broker/acl.js';
import { connectControllerLink } from '../../../controller/broker/link.js';
import { deviceTopic } from '../../../shared/wire/topics.js';
import { waitFor } from '../../../harness/wait.js';

t.test('controller link routes device messages by kind and publishes retained', async (t) => {
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    controllerSecret: 's3',
    authenticateDevice: (id, s) => id === 'dev-1' && s === 'pw',
  });
  t.teardown(() => broker.close());
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const link = await connectControllerLink({
    url,
    username: CONTROLLER_USERNAME,
    password: 's3',
    clientId: `${CONTROLLER_USERNAME}-test`,
  });
  t.teardown(() => link.close());
  const got: string[] = [];
  link.on('telemetry', (id, payload) => {
    got.push(`${id}:${Buffer.from(payload).toString()}`);
  });
  link.on('event', () => {
    throw new Error('handler bug');
  });
  t.throws(() => link.on('assignment', () => undefined), { code: 'BMF_ERR_INTERNAL' });

  await link.publish(deviceTopic('assignment', 'dev-1'), Buffer.from('A1'), {
    qos: 1,
    retain: true,
  });
  const dev = await mqtt.connectAsync(url, {
    clientId: 'dev-1',
    username: 'dev-1',
    password: 'pw',
    protocolVersion: 4,
  });
  t.teardown(() => dev.endAsync());
  const retained = new Promise<string>((resolve) =>
    dev.once('message', (_t, p) => resolve(p.toString())),
  );
  await dev.subscribeAsync(deviceTopic('assignment', 'dev-1'), { qos: 1 });
  t.equal(await retained, 'A1', 'device receives its retained assignment');

  await dev.publishAsync(deviceTopic('event', 'dev-1'), 'x', { qos: 1 });
  await dev.publishAsync(deviceTopic('telemetry', 'dev-1'), 'r1', { qos: 1 });
  await waitFor('telemetry routed', () => got.length > 0);
  t.same(got, ['dev-1:r1'], 'telemetry routed; a throwing handler does not break routing');
});

t.test('a resumed session queue reaches handlers registered after connect', async (t) => {
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    controllerSecret: 's3',
    authenticateDevice: (id, s) => id === 'dev-1' && s === 'pw',
  });
  t.teardown(() => broker.close());
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const opts = {
    url,
    username: CONTROLLER_USERNAME,
    password: 's3',
    clientId: `${CONTROLLER_USERNAME}-held`,
  };
  await (await connectControllerLink(opts)).close();
  const dev = await mqtt.connectAsync(url, {
    clientId: 'dev-1',
    username: 'dev-1',
    password: 'pw',
    protocolVersion: 4,
  });
  t.teardown(() => dev.endAsync());
  for (const r of ['r1', 'r2'])
    await dev.publishAsync(deviceTopic('telemetry', 'dev-1'), r, { qos: 1 });

  // The broker delivers the queue right after CONNACK; the handler comes later. mqtt.js sends a
  // PUBACK after handing the message to the link, so two acknowledgements mean both are held.
  let acked = 0;
  broker.aedes.on('ack', (_packet, client) => {
    if (client?.id === opts.clientId) acked++;
  });
  const link = await connectControllerLink(opts);
  t.teardown(() => link.close());
  await waitFor('the queued reports acknowledged by the link', () => acked >= 2);
  const got: string[] = [];
  link.on('telemetry', (id, payload) => {
    got.push(`${id}:${Buffer.from(payload).toString()}`);
  });
  t.same(got, ['dev-1:r1', 'dev-1:r2'], 'held in order and handed to the handler at once');
});
