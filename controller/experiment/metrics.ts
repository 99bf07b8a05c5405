// One comparison per metric, B against A, with the always-valid (mSPRT) p-value that makes
// repeated looks safe (shared/stats/hypothesis/sequential.ts). Pure.
import type { LatencySketch } from '../../shared/stats/sketch.js';
import type { LatencySource } from '../telemetry/rollup.js';
import {
  alwaysValidP,
  compareProportions,
  confidenceSequence,
  hodgesLehmann,
  latencySampleSize,
  accuracySampleSize,
  pairedAccuracySampleSize,
  mannWhitney,
  mcNemar,
  quantileDifferences,
  sequentialBoundaryZ,
  sketchBins,
  superiorityMixtureScale,
  wilsonInterval,
  type Interval,
  type McNemarResult,
  type QuantileDifference,
} from '../../shared/stats/hypothesis/index.js';

/** `modeled`: a latency from the cost model, shown but never tested (latency-source.ts). */
/** `differs`: a descriptive row (no better or worse, e.g. detections per image) that changed. */
export type Verdict =
  'better' | 'worse' | 'no_difference' | 'not_enough_data' | 'modeled' | 'differs';

/** Below this many samples per arm no verdict is given: the normal approximations need it. */
export const MIN_SAMPLES_FOR_VERDICT = 30;

export interface MetricResult {
  readonly key: string;
  readonly kind: 'latency' | 'proportion' | 'paired' | 'ratio' | 'agreement';
  readonly label: string;
  readonly verdict: Verdict;
  /** Requests per arm (labelled pairs for shadow), whatever the unit of analysis. */
  readonly nA: number;
  readonly nB: number;
  /**
   * What the test treated as independent observations: devices for cohorts (randomised by
   * device, metrics-by-device.ts), requests for traffic split and shadow.
   */
  readonly unitOfAnalysis: 'devices' | 'requests';
  /** Observations per arm in that unit: the n the test used. */
  readonly analysed: { readonly A: number; readonly B: number };
  /** B - A: ms for latency (Hodges-Lehmann shift), a fraction for proportions. */
  readonly effect: { readonly estimate: number; readonly low: number; readonly high: number };
  /** `count`: boxes per image. */
  readonly unit: 'ms' | 'fraction' | 'count';
  /**
   * Shown with its interval and test, never part of the overall verdict, the guardrails or the
   * promotion rule (detections per image, A-vs-B box agreement).
   */
  readonly descriptive?: boolean;
  /** Fixed-horizon p-value (valid for one look only; shown for reference). */
  readonly pValue: number;
  readonly alwaysValidP: number;
  /** n per arm, in the unit of analysis, the sequential test needs to detect the MDE. */
  readonly requiredPerArm?: number;
  readonly quantiles?: readonly QuantileDifference[];
  readonly a?: Interval;
  readonly b?: Interval;
  /** Newcombe interval of pB - pA (fixed horizon). */
  readonly newcombe?: Interval;
  readonly mcnemar?: McNemarResult;
  readonly agreement?: Interval;
  /** Cohorts: devices per arm (the same as `analysed`). */
  readonly devices?: { readonly A: number; readonly B: number };
  /** Cohort proportions: observed variance over the binomial one, per arm. */
  readonly designEffect?: { readonly A: number; readonly B: number };
  /** Latency rows: where each arm's figures come from (device, this host, or the cost model). */
  readonly source?: { readonly A: readonly LatencySource[]; readonly B: readonly LatencySource[] };
  /** `not_enough_data`: what the verdict still waits for, in words ("104 more requests per arm"). */
  readonly missing?: string;
}

export interface CompareContext {
  readonly alpha: number;
  readonly minSamples: number;
  /** Always-valid p after the previous look (1 when none). */
  readonly previousP: number;
}

/**
 * The verdict of one metric. `units` are what the test ran on: requests by default, devices for
 * cohort experiments (metrics-by-device.ts), each with its own minimum.
 */
export function decide(
  p: number,
  estimate: number,
  n: number,
  ctx: CompareContext,
  higherIsBetter: boolean,
  units: { readonly count: number; readonly min: number } = {
    count: n,
    min: MIN_SAMPLES_FOR_VERDICT,
  },
): Verdict {
  if (units.count < units.min) return 'not_enough_data';
  if (p < ctx.alpha) return estimate > 0 === higherIsBetter ? 'better' : 'worse';
  return n < ctx.minSamples ? 'not_enough_data' : 'no_difference';
}

export const EMPTY = { estimate: NaN, low: NaN, high: NaN };

/** The result of a metric that has no data yet on one arm. */
export function notEnough(
  base: Omit<MetricResult, 'verdict' | 'effect' | 'pValue' | 'alwaysValidP'>,
  ctx: CompareContext,
): MetricResult {
  return {
    ...base,
    verdict: 'not_enough_data',
    effect: EMPTY,
    pValue: 1,
    alwaysValidP: ctx.previousP,
  };
}

/** Latency of one stage: rank test, Hodges-Lehmann shift, p50/p95/p99 differences. */
export function compareLatency(
  key: string,
  a: LatencySketch | undefined,
  b: LatencySketch | undefined,
  latencyMde: number,
  ctx: CompareContext,
): MetricResult {
  const nA = a?.count ?? 0;
  const nB = b?.count ?? 0;
  const base = {
    key,
    kind: 'latency' as const,
    label: `latency ${key.replace(/^latency\./, '')}`,
    unit: 'ms' as const,
    nA,
    nB,
    unitOfAnalysis: 'requests' as const,
    analysed: { A: nA, B: nB },
  };
  if (!a || !b || nA === 0 || nB === 0) return notEnough(base, ctx);
  const binsA = sketchBins(a);
  const binsB = sketchBins(b);
  const test = mannWhitney(binsA, binsB);
  const design = latencySampleSize(binsA, (v) => v * (1 + latencyMde), { alpha: ctx.alpha });
  const tau = superiorityMixtureScale(design.effect);
  const variance = test.varianceU / (nA * nB) ** 2;
  const p = alwaysValidP(ctx.previousP, { estimate: test.superiority, variance }, tau);
  // The shift's interval uses the same always-valid boundary, so it excludes 0 when the test
  // rejects (up to the discreteness of bins).
  const z = sequentialBoundaryZ(variance, tau, ctx.alpha);
  const hl = hodgesLehmann(binsA, binsB, {
    z: Number.isFinite(z) ? z : 1e6,
    varianceU: test.varianceU,
  });
  return {
    ...base,
    verdict: decide(p, test.superiority, Math.min(nA, nB), ctx, false),
    effect: { estimate: hl.shift, low: hl.low, high: hl.high },
    pValue: test.pValue,
    alwaysValidP: p,
    requiredPerArm: design.sequentialPerArm,
    quantiles: quantileDifferences(a, b, { alpha: ctx.alpha }),
  };
}

/** Unpaired proportions (golden or feedback accuracy, error rate). */
export function compareRates(
  key: string,
  label: string,
  xA: number,
  nA: number,
  xB: number,
  nB: number,
  mde: number,
  higherIsBetter: boolean,
  ctx: CompareContext,
): MetricResult {
  const base = {
    key,
    kind: 'proportion' as const,
    label,
    unit: 'fraction' as const,
    nA,
    nB,
    unitOfAnalysis: 'requests' as const,
    analysed: { A: nA, B: nB },
  };
  if (nA === 0 || nB === 0) return notEnough(base, ctx);
  const c = compareProportions(xA, nA, xB, nB, 1 - ctx.alpha);
  const look = { estimate: c.difference.estimate, variance: c.variance };
  const p = alwaysValidP(ctx.previousP, look, mde);
  const cs = confidenceSequence(look, mde, ctx.alpha);
  const pA = xA / nA;
  return {
    ...base,
    verdict: decide(p, c.difference.estimate, Math.min(nA, nB), ctx, higherIsBetter),
    effect: { estimate: cs.estimate, low: cs.low, high: cs.high },
    pValue: c.pValue,
    alwaysValidP: p,
    requiredPerArm: accuracySampleSize(Math.min(Math.max(pA, mde), 1 - 1e-9), mde, {
      alpha: ctx.alpha,
    }).sequentialPerArm,
    a: c.a,
    b: c.b,
    newcombe: c.difference,
  };
}

export interface ShadowCounts {
  readonly pairs: number;
  readonly agree: number;
  readonly aOnlyCorrect: number;
  readonly bOnlyCorrect: number;
  readonly labelled: number;
}

/** Paired shadow results: McNemar on labelled pairs, top-1 agreement on all pairs. */
export function comparePaired(s: ShadowCounts, mde: number, ctx: CompareContext): MetricResult {
  const agreement = wilsonInterval(s.agree, s.pairs, 1 - ctx.alpha);
  const base = {
    key: 'accuracy.shadow',
    kind: 'paired' as const,
    label: 'accuracy shadow (paired)',
    unit: 'fraction' as const,
    nA: s.labelled,
    nB: s.labelled,
    unitOfAnalysis: 'requests' as const,
    analysed: { A: s.labelled, B: s.labelled },
    agreement,
  };
  if (s.labelled === 0) return notEnough(base, ctx);
  const m = mcNemar(s.aOnlyCorrect, s.bOnlyCorrect, s.labelled);
  const look = { estimate: m.difference, variance: m.variance };
  const p = alwaysValidP(ctx.previousP, look, mde);
  const cs = confidenceSequence(look, mde, ctx.alpha);
  const discordant = (s.aOnlyCorrect + s.bOnlyCorrect) / s.labelled;
  return {
    ...base,
    verdict: decide(p, m.difference, s.labelled, ctx, true),
    effect: { estimate: m.difference, low: cs.low, high: cs.high },
    pValue: m.pValue,
    alwaysValidP: p,
    requiredPerArm: pairedAccuracySampleSize(Math.max(discordant, mde), mde, { alpha: ctx.alpha })
      .sequentialPerArm,
    mcnemar: m,
  };
}
