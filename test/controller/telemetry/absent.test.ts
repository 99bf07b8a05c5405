// One latency sample and one "nothing measured" from the agent's collector through the wire
// bytes, the controller's rollup and the summary the API and experiments read: the stage keeps
// its name (LatencyStage), a count stays a count, and absent stays absent (null in the summary).
// Bodies of agents deployed before the cosine fields were optional (0 for "none") still read.
import t from 'tap';
import { createTelemetryCollector } from '../../../agent/telemetry/collector.js';
import { encodeTelemetryReport } from '../../../agent/telemetry/report.js';
import { decodeTelemetry } from '../../../controller/telemetry/decode.js';
import { addReport, emptyRollup } from '../../../controller/telemetry/rollup.js';
import { summarize } from '../../../controller/telemetry/summary.js';
import { LATENCY_STAGES } from '../../../shared/wire/messages.js';
import { BUNDLE_A, encodeReport } from '../../../harness/controller/telemetry-reports.js';
import { parseDeviceId } from '../../../shared/ids.js';

const T0 = 1_700_000_000_000;
const LIMITS = { oldestMs: 0, newestMs: Number.MAX_SAFE_INTEGER };

function summaryOf(...payloads: Uint8Array[]) {
  const rollup = emptyRollup();
  for (const p of payloads) {
    const d = decodeTelemetry('dev-1', p, LIMITS);
    if (!d.ok) throw new Error(d.message);
    addReport(rollup, d.report);
  }
  return summarize(rollup, 1);
}

function agentInterval(opts: { gate?: { correct: number; samples: number; cosine?: number } }) {
  const collector = createTelemetryCollector();
  for (const ms of [4, 5, 6]) {
    collector.observer.onRequest?.({
      variant: 'A',
      bundleDigest: BUNDLE_A,
      ok: true,
      serverError: false,
      timings: { preprocessMs: 1, inferMs: ms - 2, postprocessMs: 1, e2eMs: ms },
    });
  }
  if (opts.gate) {
    collector.observer.onGate?.({
      variant: 'A',
      bundleDigest: BUNDLE_A,
      passed: true,
      samples: opts.gate.samples,
      correct: opts.gate.correct,
      accuracy: opts.gate.correct / opts.gate.samples,
      cosine: opts.gate.cosine,
    });
  }
  const [report] = collector.take();
  if (!report) throw new Error('no report');
  return encodeTelemetryReport(report, {
    deviceId: parseDeviceId('dev-1'),
    intervalStartMs: T0,
    intervalEndMs: T0 + 10_000,
    reportSequence: 1,
    device: {
      cpuPercent: 1,
      memUsedBytes: 1,
      memTotalBytes: 2,
      diskUsedBytes: 1,
      diskTotalBytes: 2,
      agentRssBytes: 1,
    },
    runtime: 'sim',
    timingMode: 'host',
  });
}

t.test('one latency sample keeps its stage name from the collector to the summary', async (t) => {
  const payload = agentInterval({});
  const d = decodeTelemetry('dev-1', payload, LIMITS);
  t.ok(d.ok);
  if (!d.ok) return;
  t.same(Object.keys(d.report.latency).sort(), [...LATENCY_STAGES].sort(), 'wire stage names');
  const s = summaryOf(payload);
  t.equal(s.latency.e2e?.count, 3, 'e2e: the request as a whole');
  t.ok(Math.abs((s.latency.e2e?.max ?? 0) - 6) <= 6 * 0.01, 'the sketch keeps 1 % accuracy');
});

t.test('absent stays absent: no golden cosine, no shadow pair -> null', async (t) => {
  const payload = agentInterval({});
  const d = decodeTelemetry('dev-1', payload, LIMITS);
  if (!d.ok) throw new Error(d.message);
  t.notOk('goldenCosineMin' in d.report.accuracy, 'unset on the wire');
  t.notOk('cosineMin' in d.report.accuracy.shadow, 'unset on the wire');
  const s = summaryOf(payload);
  t.same(s.accuracy.golden, { correct: 0, total: 0, cosineMin: null });
  t.equal(s.accuracy.shadow.cosineMin, null);
  t.equal(s.accuracy.shadow.cosineMean, null);
});

t.test('golden counts travel as counts, the cosine as measured', async (t) => {
  // 2 of 3: a ratio of 0.666... turned back into a count was the old path.
  const s = summaryOf(agentInterval({ gate: { correct: 2, samples: 3, cosine: 0.97 } }));
  t.same(s.accuracy.golden, { correct: 2, total: 3, cosineMin: 0.97 });
});

t.test('bodies of agents already deployed (0 for "none") still read as absent', async (t) => {
  // reportValue writes the old form: goldenCosineMin 0 and shadow cosineMin 0 when none.
  const old = encodeReport({
    deviceId: 'dev-1',
    intervalStartMs: T0,
    latency: { e2e: [3, 4] },
  });
  const s = summaryOf(old);
  t.equal(s.requests, 2);
  t.equal(s.accuracy.golden.cosineMin, null, 'old 0 without a golden run is no cosine');
  t.equal(s.accuracy.shadow.cosineMin, null, 'old 0 without a pair is no cosine');
  const measured = encodeReport({
    deviceId: 'dev-1',
    intervalStartMs: T0,
    latency: { e2e: [3] },
    golden: [9, 10],
    shadow: { pairs: 4, agree: 4 },
  });
  const both = summaryOf(old, measured);
  t.equal(both.accuracy.golden.cosineMin, 0.99, 'an old body with a golden run keeps it');
  t.equal(both.accuracy.shadow.cosineMin, 0.9);
  t.same([both.accuracy.golden.correct, both.accuracy.golden.total], [9, 10]);
});
