import t from 'tap';
import { analyzeExperiment, type ArmTelemetry } from '../../../controller/experiment/analyze.js';
import type { ExperimentSpec } from '../../../controller/experiment/model.js';
import {
  renderExperimentReport,
  renderExperimentTable,
} from '../../../controller/experiment/report.js';
import { comparePaired } from '../../../controller/experiment/metrics.js';
import { createFakeTelemetry, DIGEST_A, DIGEST_B, devices, runningState } from './helpers.js';

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
const state = runningState();
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

t.test('every metric row names its unit of analysis and the n it used', async (t) => {
  const render = (a: ReturnType<typeof analyzeExperiment>) => ({
    text: renderExperimentTable(a),
    html: renderExperimentReport(a),
    json: JSON.parse(JSON.stringify(a)) as typeof a,
  });
  const model = {
    seed: 7,
    perDevice: 200,
    latencyMs: { [DIGEST_A]: 5, [DIGEST_B]: 4 },
    accuracy: { [DIGEST_A]: 0.9, [DIGEST_B]: 0.88 },
  };
  // Traffic split: requests, n = requests per arm (8 devices x 200).
  const traffic = render(analyzeExperiment({ spec, state, now: 1, arms: arms(model) }));
  t.match(traffic.text, /^METRIC +TESTED OVER +N A +N B /m);
  t.match(traffic.html, '<th>tested over</th><th>n A</th><th>n B</th>');
  for (const m of traffic.json.metrics) {
    t.equal(m.unitOfAnalysis, 'requests', `${m.label}: JSON unit`);
    t.same(m.analysed, { A: 1600, B: 1600 }, `${m.label}: JSON n`);
    t.match(traffic.text, new RegExp(`^${m.label} +requests +1600 +1600 `, 'm'));
    t.match(
      traffic.html,
      `<td>${m.label}</td><td class="unit">requests</td><td class="n">1600</td>`,
    );
  }

  // Cohorts: 8 devices per arm, each arm's devices on its own bundle; the test runs on devices.
  const tel = createFakeTelemetry(model);
  const fleet = devices(16).map((d) => d.id);
  const arm = (ids: string[], bundle: string): ArmTelemetry => {
    const f = { deviceIds: ids, bundle, fromMs: 0, toMs: 1 };
    return {
      sketches: tel.sketches(f),
      summary: tel.query(f),
      devices: ids.map((id) => {
        const one = { deviceIds: [id], bundle, fromMs: 0, toMs: 1 };
        return { id, sketches: tel.sketches(one), summary: tel.query(one) };
      }),
    };
  };
  const cohort = render(
    analyzeExperiment({
      spec: { ...spec, allocation: { kind: 'cohorts', shareB: 0.5 } },
      state,
      now: 1,
      arms: { A: arm(fleet.slice(0, 8), DIGEST_A), B: arm(fleet.slice(8), DIGEST_B) },
    }),
  );
  t.ok(cohort.json.metrics.length >= 3, 'latency, accuracy, error rate');
  for (const m of cohort.json.metrics) {
    t.equal(m.unitOfAnalysis, 'devices', `${m.label}: JSON unit`);
    t.same(m.analysed, { A: 8, B: 8 }, `${m.label}: JSON n`);
    t.equal(m.nA, 1600, `${m.label}: requests stay in nA`);
    t.match(cohort.text, new RegExp(`^${m.label} +devices +8 +8 `, 'm'));
    t.match(cohort.html, `<td>${m.label}</td><td class="unit">devices</td><td class="n">8</td>`);
  }
  t.match(cohort.text, '(tested over devices: cohort experiment, each device one observation');
  t.notMatch(cohort.text, 'tested over requests', 'only the units the table holds');
  t.match(cohort.html, 'tested over devices: cohort experiment');
  t.match(traffic.html, 'tested over requests: traffic split or shadow');
  // Cohort accuracy: devices per arm needed, from the ICC seen so far.
  const acc = cohort.json.metrics.find((m) => m.key === 'accuracy.feedback')!;
  t.ok(acc.requiredPerArm! > 0 && acc.requiredPerArm! < 1e6, `needs ${acc.requiredPerArm} devices`);

  // Shadow: labelled pairs of requests.
  const paired = comparePaired(
    { pairs: 500, agree: 480, aOnlyCorrect: 10, bOnlyCorrect: 5, labelled: 300 },
    0.02,
    { alpha: 0.05, minSamples: 1, previousP: 1 },
  );
  t.equal(paired.unitOfAnalysis, 'requests');
  t.same(paired.analysed, { A: 300, B: 300 });
});
