// Child process of bench/telemetry.ts: N simulated devices, each its own mqtt.js client, publish
// telemetry at a paced total rate (QoS 1, as agents do). Runs apart from the broker so the
// publishers' CPU does not count against the ingesting side's event loop.
import mqtt, { type MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { deviceTopic } from '../shared/wire/topics.js';
import { encodeReport, lognormalSamples } from '../harness/controller/telemetry-reports.js';

export interface PublisherStep {
  readonly rate: number;
  readonly durationMs: number;
  readonly opaque: boolean;
  readonly baseMs: number;
}

let clients: { id: string; client: MqttClient; seq: number }[] = [];
const stageSamples = {
  e2e: lognormalSamples(40, 6, 0.3, 1),
  preprocess: lognormalSamples(40, 1, 0.3, 2),
  infer: lognormalSamples(40, 4, 0.3, 3),
  postprocess: lognormalSamples(40, 0.3, 0.3, 4),
};

export function reportBytes(id: string, seq: number, baseMs: number): Uint8Array {
  return encodeReport({
    deviceId: id,
    intervalStartMs: baseMs + seq * 1000,
    latency: stageSamples,
    golden: [9, 10],
  });
}

async function runStep(step: PublisherStep): Promise<{ sent: number; publishMs: number }> {
  const total = Math.round((step.rate * step.durationMs) / 1000);
  const size = reportBytes('bench-dev-0', 0, step.baseMs).length;
  const payloads: { c: (typeof clients)[number]; bytes: Buffer }[] = [];
  for (let i = 0; i < total; i++) {
    const c = clients[i % clients.length]!;
    const bytes = step.opaque
      ? randomBytes(size)
      : Buffer.from(reportBytes(c.id, c.seq++, step.baseMs));
    payloads.push({ c, bytes });
  }
  const t0 = performance.now();
  let next = 0;
  const acks: Promise<unknown>[] = [];
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.ceil(((performance.now() - t0) / 1000) * step.rate));
      for (; next < due; next++) {
        const p = payloads[next]!;
        acks.push(p.c.client.publishAsync(deviceTopic('telemetry', p.c.id), p.bytes, { qos: 1 }));
      }
      if (next >= total) resolve();
      else setTimeout(tick, 5);
    };
    tick();
  });
  await Promise.all(acks);
  return { sent: total, publishMs: performance.now() - t0 };
}

process.on(
  'message',
  (msg: { kind: string; url?: string; devices?: number; step?: PublisherStep }) => {
    void (async () => {
      if (msg.kind === 'connect') {
        clients = await Promise.all(
          Array.from({ length: msg.devices ?? 1 }, async (_, i) => {
            const id = `bench-dev-${i}`;
            const client = await mqtt.connectAsync(msg.url!, {
              clientId: id,
              username: id,
              password: 'bench-secret',
              protocolVersion: 4,
              reconnectPeriod: 0,
            });
            return { id, client, seq: 0 };
          }),
        );
        process.send?.({ kind: 'connected' });
      } else if (msg.kind === 'step' && msg.step) {
        process.send?.({ kind: 'done', ...(await runStep(msg.step)) });
      } else if (msg.kind === 'close') {
        await Promise.all(clients.map((c) => c.client.endAsync()));
        process.exit(0);
      }
    })();
  },
);
