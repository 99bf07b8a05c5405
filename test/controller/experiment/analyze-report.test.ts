import t from 'tap';
import { analyzeExperiment, type ArmTelemetry } from '../../../controller/experiment/analyze.js';
import type { ExperimentSpec, ExperimentState } from '../../../controller/experiment/model.js';
import {
  renderExperimentReport,
  renderExperimentTable,
} from '../../../controller/experiment/report.js';
import { createFakeTelemetry, DIGEST_A, DIGEST_B, devices } from './helpers.js';

const spec: ExperimentSpec = {
  id: 'exp-a',
  bundleA: DIGEST_A,
  bundleB: DIGEST_B,
  population: {},
  allocation: { kind: 'traffic', weightB: 0.5 },
  metrics: { latencyMde: 0.05, accuracyMde: 0.02 },
  guardrails: { maxAccuracyDrop: 0.05, maxErrorRateIncrease: 0.02 },
  minSamples: 500,
  minDurationMs: 0,
};
const state: ExperimentState = {
  status: 'running',
  createdAt: 0,
  startedAt: 0,
  devices: [],
  alwaysValidP: {},
  looks: [],
};
const ids = devices(8).map((d) => d.id);

function arms(model: Parameters<typeof createFakeTelemetry>[0]): {
  A: ArmTelemetry;
  B: ArmTelemetry;
} {
  const tel = createFakeTelemetry(model);
  const arm = (bundle: string): ArmTelemetry => {
    const f = { deviceIds: ids, bundle, fromMs: 0, toMs: 1 };
    return { sketches: tel.sketches(f), summary: tel.query(f) };
  };
  return { A: arm(DIGEST_A), B: arm(DIGEST_B) };
}

const cases = [
  {
    why: 'INT8 30 % faster, accuracy within the allowed drop: B wins',
    model: {
      latencyMs: { [DIGEST_A]: 5, [DIGEST_B]: 3.5 },
      accuracy: { [DIGEST_A]: 0.9, [DIGEST_B]: 0.895 },
    },
    latency: 'better',
    accuracy: 'no_difference',
    overall: 'B_better',
    winner: 'B',
  },
  {
    why: 'same bundle twice: no difference, keep A',
    model: {
      latencyMs: { [DIGEST_A]: 5, [DIGEST_B]: 5 },
      accuracy: { [DIGEST_A]: 0.9, [DIGEST_B]: 0.9 },
    },
    latency: 'no_difference',
    accuracy: 'no_difference',
    overall: 'no_difference',
    winner: 'A',
  },
  {
    why: 'B much less accurate: guardrail',
    model: {
      latencyMs: { [DIGEST_A]: 5, [DIGEST_B]: 3.5 },
      accuracy: { [DIGEST_A]: 0.9, [DIGEST_B]: 0.7 },
    },
    latency: 'better',
    accuracy: 'worse',
    overall: 'guardrail',
    winner: 'A',
  },
  {
    why: 'B slower, same accuracy: A wins',
    model: {
      latencyMs: { [DIGEST_A]: 5, [DIGEST_B]: 6 },
      accuracy: { [DIGEST_A]: 0.9, [DIGEST_B]: 0.9 },
    },
    latency: 'worse',
    accuracy: 'no_difference',
    overall: 'A_better',
    winner: 'A',
  },
];

for (const c of cases) {
  t.test(c.why, async (t) => {
    const a = analyzeExperiment({
      spec,
      state,
      now: 1,
      arms: arms({ seed: 3, perDevice: 400, ...c.model }),
    });
    const by = (k: string) => a.metrics.find((m) => m.key === k)!;
    t.equal(by('latency.e2e').verdict, c.latency);
    t.equal(by('accuracy.feedback').verdict, c.accuracy);
    t.equal(a.overall.verdict, c.overall, a.overall.reason);
    t.equal(a.overall.winner, c.winner);
    t.equal(a.samples.A, 3200);
    t.ok(by('latency.e2e').quantiles!.length === 3);
  });
}

t.test('too little data: not enough data', async (t) => {
  const a = analyzeExperiment({
    spec,
    state,
    now: 1,
    arms: arms({ seed: 4, perDevice: 3, latencyMs: {}, accuracy: {} }),
  });
  t.equal(a.overall.verdict, 'not_enough_data');
  t.equal(a.overall.winner, undefined);
});

t.test('HTML report has an <svg> per chart; text table lists every metric', async (t) => {
  const a = analyzeExperiment({
    spec,
    state,
    now: 1,
    arms: arms({
      seed: 5,
      perDevice: 300,
      latencyMs: { [DIGEST_A]: 5, [DIGEST_B]: 4 },
      accuracy: {},
    }),
    groups: [
      { name: 'chip=bm1684x', ...arms({ seed: 6, perDevice: 100, latencyMs: {}, accuracy: {} }) },
    ],
    timeline: [
      { startMs: 0, A: 100, B: 90 },
      { startMs: 60000, A: 120, B: 130 },
    ],
  });
  const html = renderExperimentReport(a);
  t.equal(html.match(/<svg /g)?.length, 4, 'CDF, accuracy, sample size, groups');
  t.match(html, /<polyline[^>]+points="[0-9]/);
  t.match(html, 'Verdict');
  t.notMatch(html, /<script/);
  const text = renderExperimentTable(a);
  for (const m of a.metrics) t.match(text, m.label);
  t.match(text, /verdict: /);
});
