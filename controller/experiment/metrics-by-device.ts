// Cohort experiments randomise devices, not requests, so the device is the unit of analysis
// (shared/stats/hypothesis/clustered.ts says why). Same MetricResult shape and the same always-valid
// (mSPRT) machinery as metrics.ts, fed with the device-level estimate and variance. Pure.
import type { LatencySketch } from '../../shared/stats/sketch.js';
import {
  alwaysValidP,
  binsFromValues,
  compareClusteredProportions,
  confidenceSequence,
  deviceQuantileDifferences,
  deviceAccuracySampleSize,
  deviceQuantiles,
  estimateIcc,
  hodgesLehmann,
  latencySampleSize,
  mannWhitney,
  sequentialBoundaryZ,
  superiorityMixtureScale,
  type ClusterCount,
} from '../../shared/stats/hypothesis/index.js';
import { decide, notEnough } from './metrics.js';
import type { CompareContext, MetricResult, Verdict } from './metrics.js';

/**
 * Below this many devices in either arm no verdict is given: the rank test over devices cannot
 * reach alpha = 0.05 with 4 + 4 devices even at a fixed horizon (min two-sided p = 2/70), and
 * the cluster-robust variance is unstable with fewer.
 */
export const MIN_DEVICES_FOR_VERDICT = 5;

/** Per-device telemetry of one arm, reduced to what the comparisons need. */
export interface DeviceSample {
  readonly id: string;
  readonly sketch?: LatencySketch;
}

/** Cohort verdicts: the test ran on devices, and "no difference" still needs the request minimum. */
function decideByDevice(
  p: number,
  estimate: number,
  devices: number,
  requests: number,
  ctx: CompareContext,
  higherIsBetter: boolean,
): Verdict {
  return decide(p, estimate, requests, ctx, higherIsBetter, {
    count: devices,
    min: MIN_DEVICES_FOR_VERDICT,
  });
}

/**
 * Latency of one stage over devices: each device's median (from its own sketch) is one
 * observation; Mann-Whitney over devices, Hodges-Lehmann shift of the device medians, and
 * p50/p95/p99 as shifts of the per-device quantiles. nA/nB stay request counts (as in the
 * request-level result); `devices` holds the unit counts the test ran on.
 */
export function compareLatencyByDevice(
  key: string,
  a: readonly LatencySketch[],
  b: readonly LatencySketch[],
  latencyMde: number,
  ctx: CompareContext,
): MetricResult {
  const medA = deviceQuantiles(a, 0.5);
  const medB = deviceQuantiles(b, 0.5);
  const nA = a.reduce((s, x) => s + x.count, 0);
  const nB = b.reduce((s, x) => s + x.count, 0);
  const base = {
    key,
    kind: 'latency' as const,
    label: `latency ${key.replace(/^latency\./, '')}`,
    unit: 'ms' as const,
    nA,
    nB,
    devices: { A: medA.length, B: medB.length },
    unitOfAnalysis: 'devices' as const,
    analysed: { A: medA.length, B: medB.length },
  };
  if (medA.length === 0 || medB.length === 0) return notEnough(base, ctx);
  const binsA = binsFromValues(medA);
  const binsB = binsFromValues(medB);
  const test = mannWhitney(binsA, binsB);
  // tau: the superiority a latencyMde shift of A's device medians would give, by the same rule
  // as for requests; with a tight fleet this is large, so few devices suffice.
  const design = latencySampleSize(binsA, (v) => v * (1 + latencyMde), { alpha: ctx.alpha });
  const tau = superiorityMixtureScale(design.effect);
  const variance = test.varianceU / (test.nA * test.nB) ** 2;
  const p = alwaysValidP(ctx.previousP, { estimate: test.superiority, variance }, tau);
  const z = sequentialBoundaryZ(variance, tau, ctx.alpha);
  const zz = Number.isFinite(z) ? z : 1e6;
  const hl = hodgesLehmann(binsA, binsB, { z: zz, varianceU: test.varianceU });
  return {
    ...base,
    verdict: decideByDevice(
      p,
      test.superiority,
      Math.min(medA.length, medB.length),
      Math.min(nA, nB),
      ctx,
      false,
    ),
    effect: { estimate: hl.shift, low: hl.low, high: hl.high },
    pValue: test.pValue,
    alwaysValidP: p,
    requiredPerArm: design.sequentialPerArm,
    quantiles: deviceQuantileDifferences(a, b, { z: zz }),
  };
}

/** Proportions (accuracy, error rate) over devices: ratio estimator, cluster-robust variance. */
export function compareRatesByDevice(
  key: string,
  label: string,
  a: readonly ClusterCount[],
  b: readonly ClusterCount[],
  mde: number,
  higherIsBetter: boolean,
  ctx: CompareContext,
): MetricResult {
  const usedA = a.filter((c) => c.n > 0);
  const usedB = b.filter((c) => c.n > 0);
  const nA = usedA.reduce((s, c) => s + c.n, 0);
  const nB = usedB.reduce((s, c) => s + c.n, 0);
  const base = {
    key,
    kind: 'proportion' as const,
    label,
    unit: 'fraction' as const,
    nA,
    nB,
    devices: { A: usedA.length, B: usedB.length },
    unitOfAnalysis: 'devices' as const,
    analysed: { A: usedA.length, B: usedB.length },
  };
  if (nA === 0 || nB === 0) return notEnough(base, ctx);
  const c = compareClusteredProportions(usedA, usedB, 1 - ctx.alpha);
  const look = { estimate: c.difference.estimate, variance: c.variance };
  const p = alwaysValidP(ctx.previousP, look, mde);
  const cs = confidenceSequence(look, mde, ctx.alpha);
  // Devices per arm for the MDE at the ICC and requests per device seen so far
  // (cluster-sample-size.ts); NaN ICC (too few devices yet) leaves it out.
  const seen = estimateIcc([usedA, usedB]);
  const required = deviceAccuracySampleSize(
    Math.min(Math.max(c.a.estimate, mde), 1 - 1e-9),
    mde,
    { icc: seen.icc, requestsPerDevice: seen.requestsPerDevice },
    { alpha: ctx.alpha },
  ).sequentialPerArm;
  return {
    ...base,
    verdict: decideByDevice(
      p,
      c.difference.estimate,
      Math.min(usedA.length, usedB.length),
      Math.min(nA, nB),
      ctx,
      higherIsBetter,
    ),
    effect: { estimate: cs.estimate, low: cs.low, high: cs.high },
    pValue: c.pValue,
    alwaysValidP: p,
    ...(Number.isFinite(required) ? { requiredPerArm: required } : {}),
    a: c.a,
    b: c.b,
    newcombe: c.difference,
    designEffect: c.designEffect,
  };
}
