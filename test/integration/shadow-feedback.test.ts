// Paired shadow accuracy from a label to a verdict: requests and feedback through the agent's
// local API over a real socket (A serves, B shadows every request), the agent's telemetry
// reports as published bytes, the controller's telemetry service on a real SQLite file, and the
// experiment analysis's McNemar test on what the controller merged.
import t from 'tap';
import { createSystemClock } from '../../agent/clock.js';
import { createSimSessionPool } from '../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../agent/runtime/sim.js';
import { createLocalApi } from '../../agent/serve/http.js';
import { createServeMetrics } from '../../agent/serve/metrics.js';
import { createInferenceService } from '../../agent/serve/service.js';
import { createTelemetryCollector } from '../../agent/telemetry/collector.js';
import { encodeTelemetryReport } from '../../agent/telemetry/report.js';
import { analyzeExperiment } from '../../controller/experiment/analyze.js';
import type { ExperimentSpec } from '../../controller/experiment/model.js';
import { decodeMessage } from '../../shared/wire/codec.js';
import { goldenInputs, tinySpec } from '../../harness/agent/models.js';
import { openTelemetry } from '../controller/telemetry/harness.js';
import { parseDigest, parseDeviceId } from '../../shared/ids.js';

const golden = goldenInputs();
const DIGEST_A = parseDigest('a'.repeat(64));
const DIGEST_B = parseDigest('b'.repeat(64));
const DEVICE = 'dev-001';
const NAMES = ['zero', 'one', 'two', 'three'];
type Outcome = 'bothCorrect' | 'aOnlyCorrect' | 'bOnlyCorrect' | 'bothWrong';

t.test('shadow pairs labelled over the local API reach the experiment McNemar test', async (t) => {
  const clock = createSystemClock();
  const pool = createSimSessionPool();

  // B's own top-1 per golden input, from a service that serves it alone.
  const alone = createInferenceService({
    runtime: createSimBackend({ pool, clock, timing: 'host' }),
    clock,
  });
  await alone.variants.install('A', tinySpec('tiny-bad'), { knownGood: true });
  const bTop1: number[] = [];
  for (const feeds of golden.inputs) {
    bTop1.push((await alone.infer({ kind: 'tensor', feeds })).topK[0]?.index ?? -1);
  }
  await alone.close();

  const collector = createTelemetryCollector();
  const metrics = createServeMetrics({ device: DEVICE });
  const service = createInferenceService({
    runtime: createSimBackend({ pool, clock, timing: 'host' }),
    clock,
    observers: [metrics.observer, collector.observer],
  });
  const app = await createLocalApi({ service, registry: metrics.registry });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    await service.close();
  });
  const post = (path: string, value: unknown) =>
    fetch(`${address}${path}`, {
      method: 'POST',
      body: JSON.stringify(value),
      headers: { 'content-type': 'application/json' },
    });
  await service.variants.install('A', tinySpec('tiny-a', { bundleDigest: DIGEST_A }));
  await service.variants.install('B', tinySpec('tiny-bad', { bundleDigest: DIGEST_B }), {
    knownGood: true,
  });
  service.setTraffic({ mode: 'weighted', weightB: 0, shadowRate: 1 });

  const reports: Uint8Array[] = [];
  let sequence = clock.wallNow();
  let start = clock.wallNow();
  function closeInterval() {
    const end = Math.max(start, clock.wallNow());
    const taken = collector.take();
    for (const r of taken) {
      reports.push(
        encodeTelemetryReport(r, {
          deviceId: parseDeviceId(DEVICE),
          intervalStartMs: start,
          intervalEndMs: end,
          reportSequence: sequence++,
          device: {
            cpuPercent: 0,
            memUsedBytes: 0,
            memTotalBytes: 0,
            diskUsedBytes: 0,
            diskTotalBytes: 0,
            agentRssBytes: 0,
          },
          runtime: 'sim',
          timingMode: 'host',
        }),
      );
    }
    start = end;
    return taken;
  }

  // Interval 1: every golden input served by A and shadowed by B.
  const served: { requestId: string; a: number }[] = [];
  for (const feeds of golden.inputs) {
    const x = feeds.input!;
    const res = await post('/v1/infer', {
      inputs: {
        input: { dtype: 'float32', shape: x.shape, data: Array.from(x.data as Float32Array) },
      },
    });
    t.equal(res.status, 200);
    const body = (await res.json()) as { requestId: string; topK: { index: number }[] };
    served.push({ requestId: body.requestId, a: body.topK[0]?.index ?? -1 });
  }
  await service.settle();
  const first = closeInterval();
  const b1 = first.find((r) => r.variant === 'B');
  t.equal(b1?.accuracy.shadow.pairs, golden.inputs.length, 'every request was shadowed');

  // Interval 2: labels arrive. Per request the label is A's answer, B's answer or neither's,
  // as an index or as a class name; what each must count is worked out here from the answers.
  const expected: Record<Outcome, number> = {
    bothCorrect: 0,
    aOnlyCorrect: 0,
    bOnlyCorrect: 0,
    bothWrong: 0,
  };
  let feedbackCorrect = 0;
  for (const [i, s] of served.entries()) {
    const b = bTop1[i] ?? -1;
    const agree = s.a === b;
    const pick = (['a', 'b', 'neither'] as const)[i % 3]!;
    const cls =
      pick === 'a' ? s.a : pick === 'b' ? b : [0, 1, 2, 3].find((c) => c !== s.a && c !== b)!;
    const outcome: Outcome =
      pick === 'neither'
        ? 'bothWrong'
        : agree
          ? 'bothCorrect'
          : pick === 'a'
            ? 'aOnlyCorrect'
            : 'bOnlyCorrect';
    expected[outcome] += 1;
    const aCorrect = outcome === 'bothCorrect' || outcome === 'aOnlyCorrect';
    feedbackCorrect += aCorrect ? 1 : 0;
    const res = await post('/v1/feedback', {
      requestId: s.requestId,
      label: i % 2 === 0 ? cls : NAMES[cls],
    });
    t.equal(res.status, 200);
    t.same(await res.json(), { correct: aCorrect }, `request ${i}: ${outcome}`);
  }
  t.ok(expected.aOnlyCorrect > 0 && expected.bOnlyCorrect > 0, 'discordant pairs both ways');
  const again = await post('/v1/feedback', { requestId: served[0]!.requestId, label: 0 });
  t.equal(again.status, 404, 'a second label for the same request is refused');
  t.equal(
    ((await again.json()) as { error: { code: string } }).error.code,
    'BMF_ERR_FEEDBACK_UNKNOWN_REQUEST',
  );
  const second = closeInterval();
  t.match(
    second.find((r) => r.variant === 'B')?.accuracy.shadow,
    expected,
    'counted on B in the interval the labels arrived in',
  );

  // What the device publishes: one report per variant per interval.
  const onWire = reports.map((bytes) => decodeMessage('TelemetryReport', bytes));
  t.same(
    onWire.map((r) => [r.variant, r.bundleDigest]),
    [
      ['A', DIGEST_A],
      ['B', DIGEST_B],
      ['A', DIGEST_A],
      ['B', DIGEST_B],
    ],
  );
  // No pair in that interval: no cosine minimum (absent on the wire, not 0).
  t.same(onWire[3]?.accuracy.shadow, {
    pairs: 0,
    top1Agree: 0,
    cosineSum: 0,
    ...expected,
  });

  // The controller merges them and the experiment compares the arms on the labelled pairs.
  const { service: telemetry } = openTelemetry(t, clock.wallNow());
  for (const bytes of reports) t.equal(telemetry.ingest(DEVICE, bytes), 'accepted');
  await telemetry.flush();
  const range = { deviceIds: [DEVICE], fromMs: 0, toMs: clock.wallNow() + 120_000 };
  const arm = async (bundle: string) => ({
    sketches: await telemetry.sketches({ ...range, bundle }),
    summary: await telemetry.query({ ...range, bundle }),
  });
  const A = await arm(DIGEST_A);
  const B = await arm(DIGEST_B);
  t.match(B.summary.accuracy.shadow, { total: golden.inputs.length, ...expected });
  t.same(A.summary.accuracy.feedback, { correct: feedbackCorrect, total: served.length });

  const spec: ExperimentSpec = {
    id: 'shadow-int8',
    bundleA: DIGEST_A,
    bundleB: DIGEST_B,
    population: {},
    allocation: { kind: 'shadow', rate: 1 },
    metrics: {},
    guardrails: {},
    minSamples: 1,
    minDurationMs: 0,
  };
  const analysis = analyzeExperiment({
    spec,
    state: {
      status: 'running',
      createdAt: 0,
      startedAt: 0,
      devices: [DEVICE],
      alwaysValidP: {},
      looks: [],
    },
    now: clock.wallNow(),
    arms: { A, B },
  });
  const paired = analysis.metrics.find((m) => m.key === 'accuracy.shadow');
  const labelled = Object.values(expected).reduce((n, x) => n + x, 0);
  t.equal(paired?.nA, labelled, 'McNemar runs on the labelled pairs');
  t.match(paired?.mcnemar, { aOnly: expected.aOnlyCorrect, bOnly: expected.bOnlyCorrect });
  t.equal(
    paired?.effect.estimate,
    (expected.bOnlyCorrect - expected.aOnlyCorrect) / labelled,
    'paired accuracy difference B - A',
  );
});
