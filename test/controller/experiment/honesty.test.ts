// A/B honesty: telemetry carries where latencies come from (device, this host's simulator, or
// the cost model), a modeled latency is shown as modeled and never tested, every latency row
// says its source, a winner is named only when `promote` would accept it (otherwise the verdict
// says what is missing), and human output speaks words, not enum values. Reports go through the
// real rollup (addReport) and summary, as the controller ingests them.
import t from 'tap';
import { analyzeExperiment, type ArmTelemetry } from '../../../controller/experiment/analyze.js';
import type { ExperimentSpec, ExperimentState } from '../../../controller/experiment/model.js';
import {
  renderExperimentReport,
  renderExperimentTable,
} from '../../../controller/experiment/report.js';
import { checkPowered } from '../../../controller/experiment/validate.js';
import { decodeCounters, encodeCounters } from '../../../controller/telemetry/rollup-codec.js';
import { addReport, emptyRollup, type Rollup } from '../../../controller/telemetry/rollup.js';
import { summarize } from '../../../controller/telemetry/summary.js';
import { lognormalSamples, reportValue } from '../../../harness/controller/telemetry-reports.js';
import { DIGEST_A, DIGEST_B, runningState } from './helpers.js';

const NOW = 1_000_000;
const spec: ExperimentSpec = {
  id: 'honest',
  bundleA: DIGEST_A,
  bundleB: DIGEST_B,
  population: {},
  allocation: { kind: 'traffic', weightB: 0.5 },
  metrics: { stages: ['infer', 'preprocess', 'e2e'], latencyMde: 0.05, accuracyMde: 0.02 },
  guardrails: { maxAccuracyDrop: 0.05, maxErrorRateIncrease: 0.02 },
  minSamples: 500,
  minDurationMs: 60_000,
};
const running = (ranMs: number): ExperimentState => runningState({ startedAt: NOW - ranMs });

type Source = { runtime: 'sim' | 'bmrt'; timingMode: string };
const MODELED: Source = { runtime: 'sim', timingMode: 'modeled' };
const HOST: Source = { runtime: 'sim', timingMode: 'host' };
const DEVICE: Source = { runtime: 'bmrt', timingMode: '' };

/**
 * One arm as the controller sees it after ingesting `n` requests: infer at `inferMs` (a constant
 * when modeled, log-normal noise around it otherwise), preprocessing measured on the host.
 */
function arm(n: number, inferMs: number, source: Source, seed: number): ArmTelemetry {
  const rollup: Rollup = emptyRollup();
  const pre = lognormalSamples(n, 0.8, 0.3, seed);
  const infer =
    source === MODELED ? pre.map(() => inferMs) : lognormalSamples(n, inferMs, 0.2, seed + 1);
  addReport(rollup, {
    ...reportValue({
      deviceId: 'd1',
      intervalStartMs: 0,
      latency: { preprocess: pre, infer, e2e: infer.map((x, i) => x + (pre[i] ?? 0)) },
      feedback: [Math.round(n * 0.9), n],
    }),
    ...source,
  });
  return { sketches: Object.fromEntries(rollup.sketches), summary: summarize(rollup, 1) };
}

const ENUMS = /\b(A_better|B_better|not_enough_data|no_difference|tradeoff|guardrail)\b/;
/** The words a person reads: the text table, and the HTML without its tags. */
function humanText(a: ReturnType<typeof analyzeExperiment>): string {
  return `${renderExperimentTable(a)}\n${renderExperimentReport(a).replace(/<[^>]*>/g, ' ')}`;
}

t.test('telemetry keeps the latency source of every request', async (t) => {
  const rollup = emptyRollup();
  for (const [source, n] of [
    [MODELED, 3],
    [HOST, 5],
    [DEVICE, 7],
  ] as const) {
    addReport(rollup, {
      ...reportValue({ deviceId: 'd', intervalStartMs: 0, latency: { e2e: Array(n).fill(1) } }),
      ...source,
    });
  }
  t.same(summarize(rollup, 1).latencySources, { modeled: 3, host: 5, device: 7 });
  const stored = decodeCounters(encodeCounters(rollup.counters));
  t.same(stored.latencySources, { modeled: 3, host: 5, device: 7 }, 'survives the store');
  // A row written before sources were kept: its requests are of unknown source, not "device".
  const { latencySources: _dropped, ...legacy } = rollup.counters;
  const old = { ...rollup, counters: decodeCounters(JSON.stringify(legacy)) };
  t.same(summarize(old, 1).latencySources, { unknown: 15 });
});

t.test('a modeled latency is shown as modeled and never tested', async (t) => {
  // The case: INT8's modeled infer 18.1 us vs FP32's 30.7 us, nothing else differs.
  const arms = { A: arm(2000, 0.0307, MODELED, 1), B: arm(2000, 0.0181, MODELED, 3) };
  const a = analyzeExperiment({ spec, state: running(120_000), now: NOW, arms });
  const infer = a.metrics.find((m) => m.key === 'latency.infer');
  t.equal(infer?.verdict, 'modeled', 'not better, not worse: not tested');
  t.ok(Number.isNaN(infer?.pValue), 'no p-value');
  t.equal(infer?.alwaysValidP, 1, 'nothing accumulated for the next look');
  t.same(infer?.source, { A: ['modeled'], B: ['modeled'] });
  // DDSketch relative accuracy 0.5 % on each median: the difference within 0.5 us.
  t.ok(Math.abs((infer?.effect.estimate ?? 0) - -0.0126) < 0.0005, 'the model difference shown');
  const e2e = a.metrics.find((m) => m.key === 'latency.e2e');
  t.equal(e2e?.verdict, 'modeled', 'e2e holds the modeled infer figure: not tested either');
  t.same(
    e2e?.source,
    { A: ['host', 'modeled'], B: ['host', 'modeled'] },
    'and host-measured parts',
  );
  const pre = a.metrics.find((m) => m.key === 'latency.preprocess');
  t.same(pre?.source, { A: ['host'], B: ['host'] }, 'preprocessing is measured on this host');
  t.not(pre?.verdict, 'modeled', 'and tested');
  t.not(a.overall.verdict, 'B_better', 'a modeled figure does not make B better');
  t.equal(a.overall.verdict, 'no_difference');
  t.equal(a.overall.winner, 'A', 'nothing measured differs: keep the incumbent');
  t.match(a.overall.reason, /not tested, modeled by the cost model/);

  const text = renderExperimentTable(a);
  t.match(text, /^latency infer .*not tested \(modeled\) +modeled \(cost model, not measured\)$/m);
  t.match(text, /^latency preprocess .*measured on this host \(simulator\)$/m);
  const html = renderExperimentReport(a);
  t.match(html, '<td>not tested</td><td class="modeled">not tested (modeled)</td>');
  t.notMatch(humanText(a), ENUMS, 'words, not enum values');
});

t.test('every latency row says where it was measured', async (t) => {
  for (const [source, words] of [
    [DEVICE, 'measured on the device'],
    [HOST, 'measured on this host (simulator)'],
  ] as const) {
    const arms = { A: arm(2000, 5, source, 11), B: arm(2000, 3.5, source, 13) };
    const a = analyzeExperiment({ spec, state: running(120_000), now: NOW, arms });
    const infer = a.metrics.find((m) => m.key === 'latency.infer');
    t.equal(infer?.verdict, 'better', `${words}: tested, and B is faster`);
    t.match(
      renderExperimentTable(a),
      new RegExp(`^latency infer .* B better +${words.replace(/[()]/g, '\\$&')}$`, 'm'),
    );
    t.equal(a.overall.verdict, 'B_better');
    t.equal(a.overall.winner, 'B');
    t.doesNotThrow(() => checkPowered(spec, running(120_000), a.samples, NOW), 'promotable');
  }
});

t.test(
  'a winner is named only when promote would accept it; otherwise what is missing',
  async (t) => {
    // B is clearly faster on the device, but after 400 requests per arm and 20 s of the 60 s.
    const arms = { A: arm(400, 5, DEVICE, 21), B: arm(400, 3.5, DEVICE, 23) };
    const a = analyzeExperiment({ spec, state: running(20_000), now: NOW, arms });
    t.equal(a.metrics.find((m) => m.key === 'latency.infer')?.verdict, 'better');
    t.equal(a.overall.winner, undefined, 'no winner yet');
    t.throws(() => checkPowered(spec, running(20_000), a.samples, NOW), 'promote refuses it');
    t.equal(a.overall.verdict, 'not_enough_data');
    t.equal(a.overall.leaning, 'B', 'but B leads');
    t.same(a.overall.missing, [
      'ran 20 s of the minimum 60 s (40 s more)',
      '400 samples in the smaller arm, minimum 500 (100 more)',
    ]);
    const text = renderExperimentTable(a);
    t.match(text, 'verdict: not enough data yet, B leads so far (not promotable yet)');
    t.match(text, 'missing: ran 20 s of the minimum 60 s (40 s more)');
    t.notMatch(humanText(a), ENUMS);

    // A metric short of its own minimum says how many more.
    const few = analyzeExperiment({
      spec,
      state: running(120_000),
      now: NOW,
      arms: { A: arm(20, 5, DEVICE, 31), B: arm(20, 5, DEVICE, 33) },
    });
    const infer = few.metrics.find((m) => m.key === 'latency.infer');
    t.equal(infer?.verdict, 'not_enough_data');
    t.equal(infer?.missing, '10 more samples per arm', 'the rank test needs 30 per arm');
    t.match(renderExperimentTable(few), /not enough data \(10 more samples per arm\)/);
    t.equal(few.overall.winner, undefined);
  },
);

t.test('winner iff promotable, over a grid of sample sizes and durations', async (t) => {
  for (const n of [100, 499, 500, 2000]) {
    for (const ranMs of [10_000, 59_000, 60_000, 300_000]) {
      const arms = { A: arm(n, 5, HOST, n), B: arm(n, 3.5, HOST, n + 1) };
      const state = running(ranMs);
      const a = analyzeExperiment({ spec, state, now: NOW, arms });
      let promotable = true;
      try {
        checkPowered(spec, state, a.samples, NOW);
      } catch {
        promotable = false;
      }
      t.equal(a.overall.winner !== undefined, promotable, `n ${n}, ran ${ranMs} ms`);
    }
  }
});
