import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { createSystemClock } from '../../../agent/clock.js';
import { createSimSessionPool } from '../../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../../agent/runtime/sim.js';
import { createInferenceService } from '../../../agent/serve/service.js';
import { createTelemetryCollector } from '../../../agent/telemetry/collector.js';
import { createOutbox } from '../../../agent/telemetry/outbox.js';
import { goldenInputs, tinySpec } from '../../../harness/agent/models.js';

const golden = goldenInputs();

/** An inference service on the simulator whose every request the collector observes, closed
 * when the test ends (also when it fails: its simulator threads would keep the process alive). */
function observedService(t: Test) {
  const clock = createSystemClock();
  const collector = createTelemetryCollector();
  const service = createInferenceService({
    runtime: createSimBackend({ pool: createSimSessionPool(), clock, timing: 'host' }),
    clock,
    observers: [collector.observer],
  });
  t.teardown(() => service.close());
  return { collector, service };
}

t.test('collector: per-variant counts, stage sketches, paired shadow and feedback', async (t) => {
  const { collector, service } = observedService(t);
  await service.variants.install('A', tinySpec('tiny-a'));
  await service.variants.install('B', tinySpec('tiny-b'));
  service.setTraffic({ mode: 'weighted', weightB: 0, shadowRate: 1 });
  for (let i = 0; i < 10; i++) {
    const r = await service.infer({ kind: 'tensor', feeds: golden.inputs[i] ?? {} });
    if (i < 4) service.feedback(r.requestId, golden.labels[i] ?? 0);
  }
  await service.infer({ kind: 'tensor', feeds: {} }).catch(() => undefined);
  await service.settle();
  const reports = collector.take();
  const a = reports.find((r) => r.variant === 'A');
  const b = reports.find((r) => r.variant === 'B');
  t.equal(a?.counters.requests, 11);
  t.equal(a?.counters.errors, 1);
  t.same(a?.counters.errorsByCode, { BMF_ERR_TENSOR_SHAPE: 1 });
  t.equal(a?.latency.e2e.count, 10);
  t.equal(a?.latency.infer.count, 10);
  t.same([a?.accuracy.feedbackCorrect, a?.accuracy.feedbackTotal], [4, 4]);
  const gate = [a?.accuracy.goldenCorrect, a?.accuracy.goldenTotal];
  t.same(gate, [golden.labels?.length, golden.labels?.length], 'gate counts at activation');
  t.equal(b?.counters.requests, 0, 'shadow runs are not B requests');
  t.equal(b?.counters.shadowRequests, 10);
  t.equal(b?.accuracy.shadow.pairs, 10);
  t.ok((b?.accuracy.shadow.top1Agree ?? 0) >= 9);
  t.same(collector.take(), [], 'a new interval starts empty');
});

t.test(
  'collector: a gate in an interval its variant served nothing in is still reported',
  async (t) => {
    // An experiment activates B on a device; its gate's golden counts land before B's first
    // request, often in an interval of their own. They once had no bundle there, so the report
    // could not be encoded and the counts never reached the controller (or only sometimes).
    const { collector, service } = observedService(t);
    await service.variants.install('A', tinySpec('tiny-a'));
    await service.infer({ kind: 'tensor', feeds: golden.inputs[0] ?? {} });
    collector.take();
    const spec = tinySpec('tiny-b');
    await service.variants.install('B', spec);
    const reports = collector.take();
    t.same(
      reports.map((r) => r.variant),
      ['B'],
      'only the gate happened in this interval',
    );
    const b = reports[0];
    t.equal(b?.bundleDigest, spec.bundleDigest, 'the report names the gated bundle');
    t.equal(b?.counters.requests, 0);
    t.same(
      [b?.accuracy.goldenCorrect, b?.accuracy.goldenTotal],
      [golden.labels?.length, golden.labels?.length],
      'with its golden counts',
    );
  },
);

t.test(
  'outbox: persisted across restart, every report sent once across an outage, bounded',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'bmf-outbox-'));
    const first = await createOutbox(dir, 100);
    for (let i = 0; i < 30; i++) await first.enqueue(new TextEncoder().encode(`report-${i}`));
    const received: string[] = [];
    let brokerUp = true;
    const send = async (b: Uint8Array) => {
      if (!brokerUp) throw new Error('broker unreachable');
      received.push(new TextDecoder().decode(b));
      if (received.length === 10) brokerUp = false; // outage in the middle of a drain
    };
    await t.rejects(first.drain(send));
    t.equal(received.length, 10);
    // Restart while the broker is still down; more reports pile up.
    const second = await createOutbox(dir, 100);
    t.equal(second.size(), 20);
    for (let i = 30; i < 40; i++) await second.enqueue(new TextEncoder().encode(`report-${i}`));
    brokerUp = true; // reconnect
    t.equal(await second.drain(send), 30);
    t.same(
      received,
      Array.from({ length: 40 }, (_, i) => `report-${i}`),
      'all 40, in order, none twice',
    );
    t.equal(second.size(), 0);

    // A drain of an empty outbox must not leave a stale drain behind (later reports still go out).
    const fresh = await createOutbox(join(dir, 'fresh'), 5);
    t.equal(await fresh.drain(send), 0);
    await fresh.enqueue(new TextEncoder().encode('late'));
    t.equal(await fresh.drain(send), 1);
    t.equal(received.at(-1), 'late');

    const small = await createOutbox(join(dir, 'small'), 5);
    for (let i = 0; i < 8; i++) await small.enqueue(new Uint8Array([i]));
    t.equal(small.size(), 5);
    t.equal(small.dropped(), 3);
    const kept: number[] = [];
    await small.drain(async (b) => void kept.push(b[0] ?? -1));
    t.same(kept, [3, 4, 5, 6, 7], 'oldest dropped first');
  },
);
