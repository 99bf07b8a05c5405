// Detection metrics in experiments: precision and recall at IoU 0.5 from box feedback, tested as
// proportions (per request for traffic split, per device for cohorts) with the accuracy
// guardrail, and post-processing latency compared as its own stage; `experiment plan` sizes
// precision and recall experiments. Cases are data.
import t from 'tap';
import {
  analyzeExperiment,
  type ArmTelemetry,
  type DeviceTelemetry,
} from '../../../controller/experiment/analyze.js';
import type { ExperimentSpec } from '../../../controller/experiment/model.js';
import {
  parsePlanRequest,
  planCohortExperiment,
  renderPlanText,
} from '../../../controller/experiment/plan.js';
import {
  renderExperimentReport,
  renderExperimentTable,
} from '../../../controller/experiment/report.js';
import type { TelemetrySummary } from '../../../controller/telemetry/summary.js';
import { LatencySketch } from '../../../shared/stats/sketch.js';
import { DIGEST_A, DIGEST_B, summaryOf, runningState } from './helpers.js';
import { seededRandom } from '../../../shared/stats/seeded-random.js';

const state = runningState();
const spec = (kind: 'traffic' | 'cohorts'): ExperimentSpec => ({
  id: 'det',
  bundleA: DIGEST_A,
  bundleB: DIGEST_B,
  population: {},
  allocation: kind === 'traffic' ? { kind, weightB: 0.5 } : { kind, shareB: 0.5 },
  metrics: { latencyMde: 0.05, accuracyMde: 0.02 },
  guardrails: { maxAccuracyDrop: 0.05 },
  minSamples: 500,
  minDurationMs: 0,
});

interface Boxes {
  tp: number;
  fp: number;
  fn: number;
}

function device(seed: number, requests: number, post: number, d: Boxes | undefined) {
  const r = seededRandom(seed);
  const e2e = new LatencySketch();
  const pp = new LatencySketch();
  for (let i = 0; i < requests; i++) {
    e2e.add(10 * (0.9 + 0.2 * r()));
    pp.add(post * (0.9 + 0.2 * r()));
  }
  const base = summaryOf(
    [{ sketch: e2e, requests, errors: 0, feedbackCorrect: 0, feedbackTotal: 0 }],
    1,
  );
  const summary: TelemetrySummary = d
    ? {
        ...base,
        accuracy: { ...base.accuracy, detection: { feedback: requests, ...d } },
      }
    : base;
  return { sketches: { e2e, postprocess: pp }, summary };
}

/** One arm of `n` devices, each near these box counts (devices differ by a few boxes). */
function arm(n: number, seed: number, post: number, d: Boxes | undefined): ArmTelemetry {
  const r = seededRandom(seed * 7919);
  const boxes = Array.from({ length: n }, (): Boxes | undefined => {
    if (!d) return undefined;
    const j = Math.floor(r() * 9) - 4;
    return { tp: d.tp + j, fp: d.fp - j, fn: d.fn - j };
  });
  const devs: DeviceTelemetry[] = boxes.map((b, i) => ({
    id: `dev-${i}`,
    ...device(seed + i, 200, post, b),
  }));
  const sum = (f: (x: Boxes) => number) => boxes.reduce((s, b) => s + (b ? f(b) : 0), 0);
  const e2e = new LatencySketch();
  const pp = new LatencySketch();
  for (const x of devs) {
    e2e.merge(x.sketches.e2e as LatencySketch);
    pp.merge(x.sketches.postprocess as LatencySketch);
  }
  const base = summaryOf(
    devs.map(() => ({
      sketch: e2e,
      requests: 200,
      errors: 0,
      feedbackCorrect: 0,
      feedbackTotal: 0,
    })),
    n,
  );
  const summary: TelemetrySummary = d
    ? {
        ...base,
        accuracy: {
          ...base.accuracy,
          detection: {
            feedback: 200 * n,
            tp: sum((x) => x.tp),
            fp: sum((x) => x.fp),
            fn: sum((x) => x.fn),
          },
        },
      }
    : base;
  return { sketches: { e2e, postprocess: pp }, summary, devices: devs };
}

const cases: {
  why: string;
  kind: 'traffic' | 'cohorts';
  A: Boxes | undefined;
  B: Boxes | undefined;
  postB: number;
  expect: Record<string, string> | undefined;
  unit?: 'devices' | 'requests';
  guardrail: boolean;
}[] = [
  {
    why: 'traffic split, B loses 20 points of precision and recall: worse, guardrail',
    kind: 'traffic',
    A: { tp: 90, fp: 10, fn: 10 },
    B: { tp: 70, fp: 30, fn: 30 },
    postB: 2,
    expect: {
      'detection.precision': 'worse',
      'detection.recall': 'worse',
      'latency.postprocess': 'no_difference',
    },
    unit: 'requests',
    guardrail: true,
  },
  {
    why: 'traffic split, same boxes, B post-processing 3x slower',
    kind: 'traffic',
    A: { tp: 90, fp: 10, fn: 10 },
    B: { tp: 90, fp: 10, fn: 10 },
    postB: 6,
    expect: {
      'detection.precision': 'no_difference',
      'detection.recall': 'no_difference',
      'latency.postprocess': 'worse',
    },
    unit: 'requests',
    guardrail: false,
  },
  {
    why: 'cohorts: devices are the unit of the box metrics',
    kind: 'cohorts',
    A: { tp: 90, fp: 10, fn: 10 },
    B: { tp: 60, fp: 40, fn: 40 },
    postB: 2,
    expect: { 'detection.precision': 'worse', 'detection.recall': 'worse' },
    unit: 'devices',
    guardrail: true,
  },
  {
    why: 'no box feedback: no detection rows and no post-processing row',
    kind: 'traffic',
    A: undefined,
    B: undefined,
    postB: 2,
    expect: undefined,
    guardrail: false,
  },
];

for (const c of cases) {
  t.test(c.why, async (t) => {
    const n = c.kind === 'cohorts' ? 30 : 10;
    const armA = arm(n, 1, 2, c.A);
    const armB = arm(n, 1000, c.postB, c.B);
    const analysis = analyzeExperiment({
      spec: spec(c.kind),
      state,
      now: 1,
      arms: { A: armA, B: armB },
    });
    const byKey = new Map(analysis.metrics.map((m) => [m.key, m]));
    if (!c.expect) {
      t.notOk(
        [...byKey.keys()].some((k) => k.startsWith('detection.') || k === 'latency.postprocess'),
      );
      return;
    }
    for (const [key, verdict] of Object.entries(c.expect)) {
      t.equal(byKey.get(key)?.verdict, verdict, key);
    }
    const precision = byKey.get('detection.precision');
    t.equal(precision?.unitOfAnalysis, c.unit);
    const share = (x: TelemetrySummary) => {
      const m = x.accuracy.detection;
      return m ? m.tp / (m.tp + m.fp) : NaN;
    };
    const expected = share(armB.summary) - share(armA.summary);
    t.ok(
      precision && Math.abs(precision.effect.estimate - expected) < 1e-9,
      `precision effect ${precision?.effect.estimate} = ${expected}`,
    );
    t.ok(
      precision &&
        precision.effect.low <= precision.effect.estimate &&
        precision.effect.high >= precision.effect.estimate,
      'interval holds the estimate',
    );
    t.equal(analysis.guardrails.breached, c.guardrail);
    t.match(renderExperimentTable(analysis), /precision @IoU 0\.5/);
    t.match(renderExperimentReport(analysis), /recall @IoU 0\.5 \(box feedback\) A/);
  });
}

t.test('experiment plan sizes precision and recall experiments', async (t) => {
  const req = parsePlanRequest({
    metric: 'recall',
    mde: 0.05,
    baseline: 0.8,
    requestsPerDevice: 100,
    icc: 0.05,
  });
  const plan = planCohortExperiment(req);
  t.equal(plan.metric, 'recall');
  t.ok(plan.devicesPerArm!.fixed >= 1);
  const text = renderPlanText(plan);
  t.match(text, /cohort plan: recall 80 % -> 75 %/);
  t.match(text, /counts boxes/);
  t.throws(() => parsePlanRequest({ metric: 'map', mde: 0.05 }), { code: 'BMF_ERR_BAD_REQUEST' });
});
