// Feedback on shadowed requests through the in-process API: the shadow run is held in flight by
// device time (modeled latency on a manual clock), so the order of label and shadow result is
// the test's to choose.
import t from 'tap';
import type { Test } from 'tap';
import { createManualClock, createSystemClock } from '../../../agent/clock.js';
import { createSimSessionPool } from '../../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../../agent/runtime/sim.js';
import type { ShadowFeedbackRecord } from '../../../agent/serve/observe.js';
import { createInferenceService } from '../../../agent/serve/service.js';
import type { ShadowPairLimits } from '../../../agent/serve/shadow-pairs.js';
import { createTelemetryCollector } from '../../../agent/telemetry/collector.js';
import type { VariantReport } from '../../../agent/telemetry/collector.js';
import { encodeTelemetryReport } from '../../../agent/telemetry/report.js';
import { decodeMessage } from '../../../shared/wire/codec.js';
import { drive } from '../helpers/drive.js';
import { waitFor } from '../../../harness/wait.js';
import { goldenInputs, tinySpec } from '../../../harness/agent/models.js';
import { parseDigest, parseDeviceId } from '../../../shared/ids.js';

const golden = goldenInputs();
const DIGEST_A = parseDigest('a'.repeat(64));
const DIGEST_B = parseDigest('b'.repeat(64));
const SHADOW_MS = 1000;
const input = (i: number) => ({ kind: 'tensor' as const, feeds: golden.inputs[i] ?? {} });

/** B's (tiny-bad's) own top-1 per golden input, from a service that serves it alone. */
async function shadowTop1s(): Promise<number[]> {
  const clock = createSystemClock();
  const service = createInferenceService({
    runtime: createSimBackend({ pool: createSimSessionPool(), clock, timing: 'host' }),
    clock,
  });
  await service.variants.install('A', tinySpec('tiny-bad'), { knownGood: true });
  const out: number[] = [];
  for (let i = 0; i < golden.inputs.length; i++) {
    out.push((await service.infer(input(i))).topK[0]?.index ?? -1);
  }
  await service.close();
  return out;
}
const bTop1 = await shadowTop1s();
// tiny-a answers the golden labels; inputs where tiny-bad disagrees give discordant pairs.
const disagree = golden.labels.flatMap((l, i) => (bTop1[i] !== l ? [i] : []));

async function setup(t: Test, shadowPairs?: Partial<ShadowPairLimits>) {
  const clock = createManualClock();
  const collector = createTelemetryCollector();
  const paired: ShadowFeedbackRecord[] = [];
  const service = createInferenceService({
    runtime: createSimBackend({ pool: createSimSessionPool(), clock, timing: 'modeled' }),
    clock,
    observers: [collector.observer, { onShadowFeedback: (p) => paired.push(p) }],
    ...(shadowPairs && { shadowPairs }),
  });
  t.teardown(() => drive(clock, service.close()));
  await service.variants.install('A', tinySpec('tiny-a', { bundleDigest: DIGEST_A }));
  const b = tinySpec('tiny-bad', { bundleDigest: DIGEST_B, modeledLatencyMs: SHADOW_MS });
  await drive(clock, service.variants.install('B', b, { knownGood: true }));
  service.setTraffic({ mode: 'weighted', weightB: 0, shadowRate: 1 });
  const take = () => {
    const reports = collector.take();
    return { A: reports.find((r) => r.variant === 'A'), B: reports.find((r) => r.variant === 'B') };
  };
  return { clock, service, paired, take };
}

const labelled = (r: VariantReport | undefined) => {
  const s = r?.accuracy.shadow;
  return (
    s && {
      bothCorrect: s.bothCorrect,
      aOnlyCorrect: s.aOnlyCorrect,
      bOnlyCorrect: s.bOnlyCorrect,
      bothWrong: s.bothWrong,
    }
  );
};
const none = { bothCorrect: 0, aOnlyCorrect: 0, bOnlyCorrect: 0, bothWrong: 0 };

t.test('disagreeing golden inputs exist (the fixture models differ)', async (t) => {
  t.ok(disagree.length >= 2, `tiny-bad disagrees with tiny-a on ${disagree.length} of 16`);
});

t.test('a label that comes before the shadow result waits for it; counted once', async (t) => {
  const { clock, service, paired, take } = await setup(t);
  const i = disagree[0] ?? 0;
  const r = await service.infer(input(i));
  // B has computed its answer and waits for device time to pass: it has not answered yet.
  await waitFor('the shadow run parked on device time', () => clock.pendingSleeps() > 0);
  t.equal(clock.pendingSleeps(), 1, 'the shadow run is parked in flight');
  t.same(service.feedback(r.requestId, golden.labels[i] ?? 0), { correct: true });
  t.same(paired, [], 'not scored while B has not answered');
  await drive(clock, service.settle());
  t.same(paired, [
    {
      primary: 'A',
      shadow: 'B',
      primaryBundle: DIGEST_A,
      shadowBundle: DIGEST_B,
      outcome: 'aOnlyCorrect',
    },
  ]);
  const first = take();
  t.same([first.A?.accuracy.feedbackTotal, first.A?.accuracy.feedbackCorrect], [1, 1]);
  t.same(labelled(first.A), none, 'paired counts are not on the serving variant');
  t.equal(first.B?.accuracy.shadow.pairs, 1);
  t.same(labelled(first.B), { ...none, aOnlyCorrect: 1 });

  t.throws(() => service.feedback(r.requestId, bTop1[i] ?? 0), {
    code: 'BMF_ERR_FEEDBACK_UNKNOWN_REQUEST',
  });
  t.same(take(), { A: undefined, B: undefined }, 'a second feedback counts nowhere');
  t.equal(paired.length, 1);
});

t.test('a label after the shadow result lands in the interval it arrives in', async (t) => {
  const { clock, service, take } = await setup(t);
  const i = disagree[1] ?? 0;
  const r = await service.infer(input(i));
  await drive(clock, service.settle());
  const before = take();
  t.equal(before.B?.accuracy.shadow.pairs, 1);
  t.same(labelled(before.B), none, 'no label yet');
  t.same(service.feedback(r.requestId, bTop1[i] ?? 0), { correct: false });
  const after = take();
  t.equal(after.B?.accuracy.shadow.pairs, 0, 'the pair was counted in the interval before');
  t.same(labelled(after.B), { ...none, bOnlyCorrect: 1 });
  t.equal(after.B?.bundleDigest, DIGEST_B, 'a report with only labels still names its bundle');
  t.equal(after.A?.bundleDigest, DIGEST_A, 'so does a report with only feedback');

  // Labelled counts above this interval's pairs are valid on the wire and reach it unchanged.
  const bytes = encodeTelemetryReport(after.B!, {
    deviceId: parseDeviceId('dev-001'),
    intervalStartMs: 0,
    intervalEndMs: 10_000,
    reportSequence: 1,
    device: {
      cpuPercent: 0,
      memUsedBytes: 0,
      memTotalBytes: 0,
      diskUsedBytes: 0,
      diskTotalBytes: 0,
      agentRssBytes: 0,
    },
    runtime: 'sim',
    timingMode: 'modeled',
  });
  const wire = decodeMessage('TelemetryReport', bytes);
  t.equal(wire.variant, 'B');
  // No pair in this interval: no cosine minimum (absent on the wire, not 0).
  t.same(wire.accuracy.shadow, {
    pairs: 0,
    top1Agree: 0,
    cosineSum: 0,
    bothCorrect: 0,
    aOnlyCorrect: 0,
    bOnlyCorrect: 1,
    bothWrong: 0,
  });
});

t.test('feedback on a request without a shadow run counts only as feedback', async (t) => {
  const { service, paired, take } = await setup(t);
  service.setTraffic({ mode: 'weighted', weightB: 0, shadowRate: 0 });
  const r = await service.infer(input(0));
  t.same(service.feedback(r.requestId, 'nothing-like-it'), { correct: false });
  const reports = take();
  t.same([reports.A?.accuracy.feedbackTotal, reports.A?.accuracy.feedbackCorrect], [1, 0]);
  t.same(labelled(reports.A), none);
  t.equal(reports.B, undefined, 'B has nothing to report');
  t.same(paired, []);
});

t.test('bounded by count: feedback on an evicted pair counts only as feedback', async (t) => {
  const { clock, service, paired, take } = await setup(t, { capacity: 2 });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await service.infer(input(i))).requestId);
  await drive(clock, service.settle());
  ids.forEach((id, i) => service.feedback(id, golden.labels[i] ?? 0));
  t.equal(paired.length, 2, 'the oldest of three was evicted');
  const reports = take();
  t.equal(reports.A?.accuracy.feedbackTotal, 3);
  const b = labelled(reports.B);
  t.equal(b ? b.bothCorrect + b.aOnlyCorrect + b.bOnlyCorrect + b.bothWrong : 0, 2);
});

t.test('bounded by age: feedback after the TTL counts only as feedback', async (t) => {
  const ttlMs = 5 * SHADOW_MS;
  const { clock, service, paired, take } = await setup(t, { ttlMs });
  const kept = await service.infer(input(0));
  const late = await service.infer(input(1));
  await drive(clock, service.settle());
  service.feedback(kept.requestId, golden.labels[0] ?? 0);
  await clock.advance(ttlMs);
  service.feedback(late.requestId, golden.labels[1] ?? 0);
  t.equal(paired.length, 1, 'only the label inside the TTL was paired');
  const reports = take();
  t.equal(reports.A?.accuracy.feedbackTotal, 2);
  t.equal(reports.B?.accuracy.shadow.pairs, 2);
});
