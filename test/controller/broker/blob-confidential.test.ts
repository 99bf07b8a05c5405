// Bundles are confidential per device: on the embedded broker a device may subscribe to a blob's
// broadcast chunks only when the blob is in its latest assignment.
import t from 'tap';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '../../../controller/broker/embedded.js';
import { broadcastChunkTopic } from '../../../shared/wire/topics.js';

const MINE = '1'.repeat(64);
const OTHER = '2'.repeat(64);
const denials: string[] = [];
const broker = await startEmbeddedBroker({
  host: '127.0.0.1',
  port: 0,
  controllerSecret: 'controller-secret',
  authenticateDevice: (id, secret) => secret === `secret-${id}`,
  mayReceiveBlob: (id, digest) => id === 'dev-a' && digest === MINE,
  onDenied: (what, who, detail) => denials.push(`${what}:${who}:${detail}`),
});
t.teardown(() => broker.close());

t.test('broadcast chunks of a blob only for devices assigned it', async (t) => {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
    clientId: 'dev-a',
    username: 'dev-a',
    password: 'secret-dev-a',
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  t.teardown(() => c.endAsync(true));
  const granted = await c.subscribeAsync(broadcastChunkTopic(MINE), { qos: 0 });
  t.equal(granted[0]?.qos, 0, 'its own assigned blob');
  await t.rejects(
    c.subscribeAsync(broadcastChunkTopic(OTHER), { qos: 0 }),
    /Unspecified error/,
    'another bundle: SUBACK failure (0x80)',
  );
  t.match(denials, [`subscribe:dev-a:${broadcastChunkTopic(OTHER)}`]);
});
