// The embedded broker's retained-message index: subscribers get exactly what a full scan gives
// (exact filters from the index, wildcard filters from the scan), deletions included.
import t from 'tap';
import mqtt, { type MqttClient } from 'mqtt';
import { startEmbeddedBroker } from '../../../controller/broker/embedded.js';
import { CONTROLLER_USERNAME } from '../../../controller/broker/acl.js';
import { indexedMemoryPersistence } from '../../../controller/broker/persistence.js';
import { deviceTopic } from '../../../shared/wire/topics.js';
import { waitFor } from '../../../harness/wait.js';

const broker = await startEmbeddedBroker({
  host: '127.0.0.1',
  port: 0,
  controllerSecret: 'controller-secret',
  authenticateDevice: () => false,
});
t.teardown(() => broker.close());

async function controller(id: string): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
    clientId: `${CONTROLLER_USERNAME}-${id}`,
    username: CONTROLLER_USERNAME,
    password: 'controller-secret',
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
}

/** Retained messages a fresh subscription to `filters` receives, as "topic=payload". */
async function retainedFor(filters: string[], expected = 0): Promise<string[]> {
  const c = await controller(`sub-${Math.random().toString(36).slice(2)}`);
  const got: string[] = [];
  c.on('message', (topic, payload, packet) => {
    if (packet.retain) got.push(`${topic}=${payload.toString()}`);
  });
  await c.subscribeAsync(filters, { qos: 1 });
  // Barrier for an unexpected extra one: the broker streams a SUBSCRIBE's retained messages from
  // memory right after its SUBACK, so they are on our socket before a message published after
  // that SUBACK reached us; that marker, arriving, closes the count.
  const marker = `bmf/v1/test/marker-${Math.random().toString(36).slice(2)}`;
  let markerSeen = false;
  c.on('message', (topic) => (markerSeen ||= topic === marker));
  await c.subscribeAsync(marker, { qos: 1 });
  await c.publishAsync(marker, 'm', { qos: 1 });
  await waitFor('the marker after the retained messages', () => markerSeen);
  await waitFor(`${expected} retained messages`, () => got.length >= expected);
  await c.endAsync();
  return got.sort();
}

const pub = await controller('pub');
t.teardown(() => pub.endAsync());
const state = (id: string) => deviceTopic('state', id);
await pub.publishAsync(state('dev-a'), 'a1', { qos: 1, retain: true });
await pub.publishAsync(state('dev-b'), 'b1', { qos: 1, retain: true });
await pub.publishAsync(state('dev-a'), 'a2', { qos: 1, retain: true });

const cases: [string, string[], string[]][] = [
  ['exact filter: the latest retained message', [state('dev-a')], [`${state('dev-a')}=a2`]],
  ['exact filter without a retained message', [state('dev-c')], []],
  [
    'several exact filters',
    [state('dev-a'), state('dev-b')],
    [`${state('dev-a')}=a2`, `${state('dev-b')}=b1`],
  ],
  [
    'a wildcard filter takes the full scan',
    ['bmf/v1/d/+/state'],
    [`${state('dev-a')}=a2`, `${state('dev-b')}=b1`],
  ],
];
for (const [name, filters, want] of cases) {
  t.test(name, async (t) => t.same(await retainedFor(filters, want.length), want));
}

t.test('an empty retained payload deletes the message for both paths', async (t) => {
  await pub.publishAsync(state('dev-b'), '', { qos: 1, retain: true });
  t.same(await retainedFor([state('dev-b')]), []);
  t.same(await retainedFor(['bmf/v1/d/#'], 1), [`${state('dev-a')}=a2`]);
});

t.test('the index is a persistence of its own per broker (no shared module state)', async (t) => {
  t.not(indexedMemoryPersistence(), indexedMemoryPersistence());
});
