// The descriptive detection rows of an experiment: detections per image (B's mean minus A's)
// and the A-vs-B matched-box F1 of shadowed requests. Per-image data and the expected figures
// come from test/fixtures/experiment/detection-descriptive-cases.json, worked out by its numpy
// script from the per-image lists; here the images go through the agent's own accumulators
// (shared/detect/agreement.ts), the controller's rollup and summary, then the analysis.
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { analyzeExperiment, type ArmTelemetry } from '../../../controller/experiment/analyze.js';
import type { ExperimentSpec } from '../../../controller/experiment/model.js';
import { renderExperimentTable } from '../../../controller/experiment/report.js';
import { emptyRollup, mergeCounters } from '../../../controller/telemetry/rollup.js';
import { summarize } from '../../../controller/telemetry/summary.js';
import {
  addBoxAgreement,
  addDetectionOutput,
  emptyBoxAgreement,
  emptyDetectionOutput,
} from '../../../shared/detect/agreement.js';
import { LatencySketch } from '../../../shared/stats/sketch.js';
import { DIGEST_A, DIGEST_B, runningState } from './helpers.js';

interface Cases {
  mde: number;
  boxes: { why: string; boxesA: number[]; boxesB: number[]; estimate: number; pValue: number }[];
  agreement: {
    why: string;
    images: [number, number, number][];
    f1: number;
    estimate: number;
    pValue: number;
  }[];
}
const cases = JSON.parse(
  readFileSync(
    new URL('../../fixtures/experiment/detection-descriptive-cases.json', import.meta.url),
    'utf8',
  ),
) as Cases;

const state = runningState();
const spec: ExperimentSpec = {
  id: 'det-descriptive',
  bundleA: DIGEST_A,
  bundleB: DIGEST_B,
  population: {},
  allocation: { kind: 'traffic', weightB: 0.5 },
  metrics: { latencyMde: 0.05, accuracyMde: cases.mde },
  guardrails: { maxAccuracyDrop: 0.02 },
  minSamples: 30,
  minDurationMs: 0,
};

/** An arm whose requests answered these box counts (scores spread over the bins), shadowed
 * images compared as given on it. */
function arm(boxes: readonly number[], shadow?: readonly [number, number, number][]): ArmTelemetry {
  const rollup = emptyRollup();
  const c = rollup.counters;
  const out = emptyDetectionOutput();
  boxes.forEach((n, i) =>
    addDetectionOutput(
      out,
      Array.from({ length: n }, (_, j) => ({ score: ((i + j) % 10) / 10 + 0.05 })),
    ),
  );
  const from = emptyRollup().counters;
  from.detectionOutput = out;
  if (shadow) {
    for (const [matched, aOnly, bOnly] of shadow)
      addBoxAgreement(from.shadow.boxes, { matched, aOnly, bOnly });
  } else from.shadow.boxes = emptyBoxAgreement();
  mergeCounters(c, from);
  rollup.requests = boxes.length;
  const e2e = new LatencySketch();
  for (let i = 0; i < boxes.length; i++) e2e.add(10 + (i % 7));
  rollup.sketches.set('e2e', e2e);
  return { sketches: { e2e }, summary: summarize(rollup, 1) };
}

const close = (t: Test, got: number | undefined, want: number, tol: number, what: string) =>
  t.ok(
    got !== undefined && Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)),
    `${what}: ${got} ~ ${want}`,
  );

const expectBoxes = ['differs', 'no_difference'];
cases.boxes.forEach((c, i) => {
  t.test(`detections per image: ${c.why}`, async (t) => {
    const a = analyzeExperiment({
      spec,
      state,
      now: 1,
      arms: { A: arm(c.boxesA), B: arm(c.boxesB) },
    });
    const m = a.metrics.find((x) => x.key === 'detection.boxes_per_image');
    close(t, m?.effect.estimate, c.estimate, 1e-12, 'B - A boxes per image');
    // The p-value carries the variance: relative tolerance on it, absolute near 0.
    t.ok(
      m !== undefined && Math.abs(m.pValue - c.pValue) <= 1e-6 * Math.max(c.pValue, 1e-12) + 1e-15,
      `p ${m?.pValue} ~ ${c.pValue}`,
    );
    t.equal(m?.verdict, expectBoxes[i]);
    t.equal(m?.unit, 'count');
    t.ok(m && m.effect.low <= m.effect.estimate && m.effect.estimate <= m.effect.high);
    t.ok(m?.descriptive, 'never decides the experiment');
    t.notOk(
      a.overall.reason.includes('detections per image'),
      `overall verdict ignores it: ${a.overall.reason}`,
    );
    t.match(renderExperimentTable(a), /detections per image/);
  });
});

const expectAgreement = ['no_difference', 'differs', 'not_enough_data'];
cases.agreement.forEach((c, i) => {
  t.test(`A-vs-B matched-box F1: ${c.why}`, async (t) => {
    const boxesA = c.images.map(([m, aOnly]) => m + aOnly);
    const boxesB = c.images.map(([m, , bOnly]) => m + bOnly);
    const a = analyzeExperiment({
      spec,
      state,
      now: 1,
      // The agent reports the comparison on the shadow variant (B).
      arms: { A: arm(boxesA), B: arm(boxesB, c.images) },
    });
    const m = a.metrics.find((x) => x.key === 'detection.agreement');
    close(t, m?.effect.estimate, c.estimate, 1e-12, 'F1 - 1');
    t.ok(
      m !== undefined && Math.abs(m.pValue - c.pValue) <= 1e-6 * Math.max(c.pValue, 1e-12) + 1e-15,
      `p ${m?.pValue} ~ ${c.pValue}`,
    );
    t.equal(m?.verdict, expectAgreement[i]);
    if (c.images.length < 30) t.equal(m?.missing, `${30 - c.images.length} more shadowed images`);
    t.equal(m?.analysed.A, c.images.length, 'images are the unit');
    t.ok(m && m.effect.low <= m.effect.estimate && m.effect.high <= 0);
    t.notOk(a.guardrails.breached, 'not an accuracy guardrail');
    t.match(renderExperimentTable(a), /matched-box F1/);
  });
});

t.test('cohorts: detections per image over devices', async (t) => {
  const c = cases.boxes[0]!;
  // Eight devices per arm, 50 images each: the ratio of sums is the mean over all images.
  const devices = (boxes: readonly number[], arm0: ArmTelemetry): ArmTelemetry => ({
    ...arm0,
    devices: Array.from({ length: 8 }, (_, d) => ({
      id: `dev-${d}`,
      ...arm(boxes.slice(d * 50, d * 50 + 50)),
    })),
  });
  const a = analyzeExperiment({
    spec: { ...spec, allocation: { kind: 'cohorts', shareB: 0.5 } },
    state,
    now: 1,
    arms: { A: devices(c.boxesA, arm(c.boxesA)), B: devices(c.boxesB, arm(c.boxesB)) },
  });
  const m = a.metrics.find((x) => x.key === 'detection.boxes_per_image');
  close(t, m?.effect.estimate, c.estimate, 1e-12, 'B - A boxes per image');
  t.equal(m?.unitOfAnalysis, 'devices');
  t.same(m?.analysed, { A: 8, B: 8 });
  t.equal(m?.verdict, 'differs', 'a box more per image on 8 + 8 devices');
});
