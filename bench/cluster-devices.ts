// The devices of `npm run bench -- cluster`, in a process of their own so that their CPU is not
// counted as the controller's: light MQTT 3.1.1 clients spread over the NATS nodes' MQTT
// listeners. Asked over IPC to publish telemetry reports (QoS 1, every one acknowledged) or to
// subscribe to a blob's broadcast chunks and count the bytes received.
import mqtt, { type MqttClient } from 'mqtt';
import { encodeReport } from '../harness/controller/telemetry-reports.js';
import { broadcastChunkTopic, deviceTopic } from '../shared/wire/topics.js';

type Ask =
  | { kind: 'connect'; urls: string[]; count: number }
  | { kind: 'report'; perDevice: number; round: number }
  | { kind: 'subscribe'; digest: string; devices: number }
  | { kind: 'received' }
  | { kind: 'close' };

const clients: { id: string; c: MqttClient }[] = [];
let chunkBytes = 0;
let chunks = 0;

async function handle(m: Ask): Promise<object> {
  switch (m.kind) {
    case 'connect':
      for (let i = 0; i < m.count; i++) {
        const id = `bench-${String(i).padStart(5, '0')}`;
        const c = await mqtt.connectAsync(m.urls[i % m.urls.length]!, {
          clientId: id,
          username: id,
          password: 'pw',
          protocolVersion: 4,
          reconnectPeriod: 500,
        });
        clients.push({ id, c });
      }
      return { kind: 'connected' };
    case 'report': {
      let bytes = 0;
      await Promise.all(
        clients.map(async ({ id, c }) => {
          for (let k = 0; k < m.perDevice; k++) {
            const p = encodeReport({
              deviceId: id,
              intervalStartMs: 1_800_000_000_000 + (m.round * m.perDevice + k) * 10_000,
              latency: { e2e: [4, 5, 6, 7, 9] },
            });
            bytes += p.byteLength;
            await c.publishAsync(deviceTopic('telemetry', id), Buffer.from(p), { qos: 1 });
          }
        }),
      );
      return { kind: 'reported', bytes };
    }
    case 'subscribe':
      for (const { c } of clients.slice(0, m.devices)) {
        c.on('message', (_t, p) => {
          chunkBytes += p.byteLength;
          chunks++;
        });
        await c.subscribeAsync(broadcastChunkTopic(m.digest), { qos: 0 });
      }
      return { kind: 'subscribed' };
    case 'received':
      return { kind: 'received', chunks, bytes: chunkBytes };
    case 'close':
      await Promise.all(clients.map(({ c }) => c.endAsync(true)));
      return { kind: 'closed' };
  }
}

process.on('message', (m: Ask) => {
  void handle(m).then((r) => process.send?.(r));
});
