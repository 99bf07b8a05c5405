// Real aedes broker on an ephemeral port, real mqtt.js clients trying each forbidden act.
import t from 'tap';
import mqtt, { type MqttClient } from 'mqtt';
import {
  CONTROLLER_SECRET,
  startRecordingBroker,
} from '../../../harness/controller/embedded-broker.js';
import { CONTROLLER_USERNAME } from '../../../controller/broker/acl.js';
import { deviceTopic } from '../../../shared/wire/topics.js';
import { waitFor } from '../../../harness/wait.js';

const { url, denials, presence } = await startRecordingBroker(t);

function connect(opts: mqtt.IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, {
      reconnectPeriod: 0,
      connectTimeout: 3000,
      protocolVersion: 4,
      ...opts,
    });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
}

const controller = await connect({
  clientId: `${CONTROLLER_USERNAME}-1`,
  username: CONTROLLER_USERNAME,
  password: CONTROLLER_SECRET,
});
t.teardown(() => controller.endAsync());
const seen: string[] = [];
controller.on('message', (topic) => seen.push(topic));
await controller.subscribeAsync('bmf/v1/d/+/state', { qos: 1 });

const refusedConnects: Array<[string, mqtt.IClientOptions]> = [
  ['anonymous', { clientId: 'anon' }],
  ['wrong secret', { clientId: 'dev-a', username: 'dev-a', password: 'nope' }],
  [
    'client id differs from username',
    { clientId: 'dev-b', username: 'dev-a', password: 'secret-a' },
  ],
  [
    'controller name with a device secret',
    { clientId: `${CONTROLLER_USERNAME}-x`, username: CONTROLLER_USERNAME, password: 'secret-a' },
  ],
];
for (const [name, opts] of refusedConnects) {
  t.test(`connect refused: ${name}`, async (t) => {
    await t.rejects(connect(opts), /Not authorized|not authorized|Connection refused/i);
  });
}

t.test('a device publishes its own state and the controller receives it', async (t) => {
  const a = await connect({ clientId: 'dev-a', username: 'dev-a', password: 'secret-a' });
  await a.publishAsync(deviceTopic('state', 'dev-a'), Buffer.from([1, 2, 3]), { qos: 1 });
  await waitFor(
    'the state and the presence delivered',
    () => seen.includes(deviceTopic('state', 'dev-a')) && presence.includes('dev-a:true'),
  );
  t.ok(seen.includes(deviceTopic('state', 'dev-a')));
  t.ok(presence.includes('dev-a:true'));
  await a.endAsync();
});

t.test(
  'a device publishing on another device topic is cut off and nothing is delivered',
  async (t) => {
    const a = await connect({ clientId: 'dev-a', username: 'dev-a', password: 'secret-a' });
    const got: string[] = [];
    const record = (topic: string, payload: Buffer) => got.push(`${topic}=${payload.toString()}`);
    controller.on('message', record);
    let cutOff = false;
    a.once('close', () => (cutOff = true));
    a.publish(deviceTopic('state', 'dev-b'), Buffer.from('spoof'), { qos: 1 });
    await waitFor('the publish refused', () =>
      denials.includes(`publish:dev-a:${deviceTopic('state', 'dev-b')}`),
    );
    // Barrier: the broker forwards a message it let through in the same turn of its event loop
    // (in-memory persistence), so the spoof would reach the controller before a message that
    // dev-b publishes on that topic after the refusal.
    const b = await connect({ clientId: 'dev-b', username: 'dev-b', password: 'secret-b' });
    t.teardown(() => b.endAsync());
    await b.publishAsync(deviceTopic('state', 'dev-b'), Buffer.from('own'), { qos: 1 });
    await waitFor('the barrier delivered', () => got.length > 0);
    controller.off('message', record);
    t.same(got, [`${deviceTopic('state', 'dev-b')}=own`], 'controller saw no spoof');
    await waitFor('dev-a cut off', () => cutOff);
    a.end(true);
  },
);

t.test('a device may not publish on controller topics (its own assignment)', async (t) => {
  const a = await connect({ clientId: 'dev-a', username: 'dev-a', password: 'secret-a' });
  const closed = new Promise<void>((r) => a.once('close', () => r()));
  a.publish(deviceTopic('assignment', 'dev-a'), Buffer.from('forged'), { qos: 1, retain: true });
  await closed;
  t.ok(denials.some((d) => d === `publish:dev-a:${deviceTopic('assignment', 'dev-a')}`));
  a.end(true);
});

const forbiddenSubscriptions = [
  deviceTopic('assignment', 'dev-b'),
  deviceTopic('command', 'dev-b'),
  'bmf/v1/d/+/assignment',
  'bmf/v1/#',
  '#',
  '$SYS/#',
];
t.test('forbidden subscriptions get a failure SUBACK', async (t) => {
  const a = await connect({ clientId: 'dev-a', username: 'dev-a', password: 'secret-a' });
  for (const filter of forbiddenSubscriptions) {
    // mqtt.js rejects the subscribe promise when the SUBACK carries 0x80 for the filter.
    const outcome = await a.subscribeAsync(filter, { qos: 1 }).then(
      (granted) => granted[0]?.qos,
      (e: { packet?: { granted?: number[] } }) => e.packet?.granted?.[0] ?? 'rejected',
    );
    t.equal(outcome, 128, `refused: ${filter}`);
  }
  const own = await a.subscribeAsync(deviceTopic('assignment', 'dev-a'), { qos: 1 });
  t.equal(own[0]?.qos, 1, 'own assignment allowed');
  await a.endAsync();
});

t.test('a device cannot leave a will on another device presence topic', async (t) => {
  const before = denials.length;
  const b = await connect({
    clientId: 'dev-b',
    username: 'dev-b',
    password: 'secret-b',
    will: {
      topic: deviceTopic('presence', 'dev-a'),
      payload: Buffer.from('x'),
      qos: 1,
      retain: true,
    },
  });
  b.stream.destroy(); // ungraceful: the broker publishes the will
  await waitFor('the will refused', () =>
    denials.slice(before).some((d) => d.startsWith('publish:dev-b:')),
  );
  t.ok(
    denials.slice(before).some((d) => d.startsWith('publish:dev-b:')),
    'will refused',
  );
  b.end(true);
});
