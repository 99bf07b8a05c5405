// Size limits and presence on a real embedded broker with real sockets: a pre-authentication
// flood is cut at its header, a device's oversized publish closes its connection, and presence
// follows the connections through denied publishes and reconnects.
import t from 'tap';
import mqtt, { type MqttClient } from 'mqtt';
import { connect as tcpConnect } from 'node:net';
import { startRecordingBroker } from '../../../harness/controller/embedded-broker.js';
import { attachEmbeddedLink } from '../../../controller/broker/embedded-link.js';
import { PRE_AUTH_MAX_PACKET_BYTES } from '../../../controller/broker/limits.js';
import { WIRE_SIZE_LIMITS } from '../../../shared/wire/limits.js';
import { deviceTopic } from '../../../shared/wire/topics.js';
import { waitForValue } from '../../../harness/wait.js';

const { broker, url, secrets, denials, presence } = await startRecordingBroker(t);
const link = await attachEmbeddedLink(broker.aedes);
t.teardown(() => link.close());
const events: number[] = [];
link.on('event', (_id, p) => void events.push(p.byteLength));

function connectDevice(id: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    clientId: id,
    username: id,
    password: secrets[id] as string,
    protocolVersion: 4,
    reconnectPeriod: 0,
    ...opts,
  });
}

/** Open a socket, send `header` then zeros up to `declared` bytes; resolve when it closes. */
function flood(header: Uint8Array, declared: number): Promise<{ sent: number }> {
  return new Promise((resolve) => {
    const s = tcpConnect(broker.port, '127.0.0.1');
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024);
    const pump = () => {
      while (sent < declared && !s.destroyed) {
        sent += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
    };
    s.on('connect', () => {
      s.write(header);
      pump();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve({ sent }));
  });
}

t.test('a CONNECT declaring 100 MB is refused before it is buffered', async (t) => {
  const before = denials.length;
  const declared = 100_000_000;
  // 0x10 CONNECT, remaining length 100,000,000 (four-byte variable length).
  const header = Uint8Array.from([0x10, 0x80, 0xc2, 0xd7, 0x2f]);
  const results = await Promise.all([1, 2, 3, 4].map(() => flood(header, declared)));
  for (const r of results) t.ok(r.sent < declared, `closed after ${r.sent} of ${declared} bytes`);
  const refused = denials.slice(before).filter((d) => d.startsWith('packet:'));
  t.equal(refused.length, 4, 'each refusal counted');
  t.match(
    refused[0],
    new RegExp(
      `100000000 bytes over the limit of ${PRE_AUTH_MAX_PACKET_BYTES}: oversize, packet type 1`,
    ),
  );
});

t.test('a device publish over its topic limit closes the connection', async (t) => {
  const c = await connectDevice('dev-a');
  t.teardown(() => c.endAsync(true));
  const topic = deviceTopic('event', 'dev-a');
  await c.publishAsync(topic, Buffer.alloc(8 * 1024), { qos: 1 });
  await waitForValue('the 8 KiB event', () => (events.includes(8 * 1024) ? true : undefined));
  const before = denials.length;
  const closed = new Promise((r) => c.stream.once('close', r));
  c.publish(topic, Buffer.alloc(WIRE_SIZE_LIMITS.Event + 1024), { qos: 1 });
  await closed;
  t.match(denials.slice(before), [
    /^packet:.*oversize, packet type 3 on bmf\/v1\/d\/dev-a\/events/,
  ]);
  t.notOk(events.includes(WIRE_SIZE_LIMITS.Event + 1024), 'never delivered');
});

/** The next `event` of `c`, or a failure naming it after 10 s. */
function next(c: MqttClient, event: 'connect' | 'close'): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within 10 s`)), 10_000);
    c.once(event, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

t.test('presence follows the connection through denied publishes and reconnects', async (t) => {
  for (let trial = 0; trial < 6; trial++) {
    presence.length = 0;
    const c = await connectDevice('dev-b', {
      reconnectPeriod: 1,
      will: {
        topic: deviceTopic('presence', 'dev-b'),
        payload: Buffer.from('x'),
        qos: 1,
        retain: true,
      },
    });
    await waitForValue('online', () => (broker.connected('dev-b') ? true : undefined));
    // Subscriptions as an agent holds them: aedes removes them while the connection closes,
    // which is when the reconnect below arrives.
    await c.subscribeAsync(
      (['assignment', 'command', 'blobOffer', 'blobChunk'] as const).map((k) =>
        deviceTopic(k, 'dev-b'),
      ),
      { qos: 1 },
    );
    // A publish on another device's topic: aedes closes the connection, mqtt.js reconnects at
    // once (QoS 0, so it is not sent again).
    const reconnected = next(c, 'connect');
    c.publish(deviceTopic('state', 'dev-a'), Buffer.from('no'), { qos: 0 });
    await reconnected;
    await waitForValue('online after reconnect', () =>
      broker.connected('dev-b') ? true : undefined,
    );
    await c.endAsync(true);
    await waitForValue(
      `offline after the device is gone (trial ${trial}: ${presence.join(' ')})`,
      () => (presence.at(-1) === 'dev-b:false' && !broker.connected('dev-b') ? true : undefined),
    );
  }
  t.pass('offline every time');
});
