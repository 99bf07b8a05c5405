// Device-level (cluster) statistics for cohort experiments. When whole devices are randomised to
// A or B, requests from one device share its speed and its input mix, so they are not independent
// observations: request-level tests understate the variance by the design effect
// deff = 1 + (m - 1) ICC (Donner & Klar, Design and Analysis of Cluster Randomization Trials,
// 2000, 2.3) and their false-positive rate grows with requests per device. Here the device is
// the unit: latency as one summary value per device (rank test over devices, see metrics.ts),
// proportions as ratio estimators with a cluster-robust variance.
import type { LatencySketch } from '../sketch.js';
import { binsFromValues } from './binned.js';
import { hodgesLehmann, mannWhitney } from './mann-whitney.js';
import { twoSidedP, zTwoSided } from './normal.js';
import { wilsonInterval, type Interval } from './proportions.js';
import { REPORTED_QUANTILES, type QuantileDifference } from './quantiles.js';

/** Successes and trials of one device. */
export interface ClusterCount {
  readonly x: number;
  readonly n: number;
}

export interface ClusteredProportion {
  /** Pooled sum(x) / sum(n): each device weighted by its requests. */
  readonly estimate: number;
  /** Cluster-robust variance of the estimate (0 with fewer than 2 devices). */
  readonly variance: number;
  /** Variance relative to the binomial p(1-p)/N (>= 1 when devices differ). */
  readonly designEffect: number;
  readonly devices: number;
  readonly trials: number;
}

/**
 * Ratio estimator p = sum x / sum n with the linearised (sandwich, CR1) variance
 * k / (k - 1) * sum (x_i - p n_i)^2 / N^2 (Cochran, Sampling Techniques, 3rd ed., 6.13; the
 * request-weighted form of a t-test on per-device proportions). It needs no model of the
 * between-device variance and reduces to ~ p(1-p)/N when devices do not differ.
 */
export function clusteredProportion(clusters: readonly ClusterCount[]): ClusteredProportion {
  const used = clusters.filter((c) => c.n > 0);
  const k = used.length;
  const trials = used.reduce((s, c) => s + c.n, 0);
  if (trials === 0) {
    return { estimate: NaN, variance: 0, designEffect: 1, devices: k, trials };
  }
  const p = used.reduce((s, c) => s + c.x, 0) / trials;
  const ss = used.reduce((s, c) => s + (c.x - p * c.n) ** 2, 0);
  const variance = k > 1 ? ((k / (k - 1)) * ss) / (trials * trials) : 0;
  const binomial = (p * (1 - p)) / trials;
  return {
    estimate: p,
    variance,
    designEffect: binomial > 0 ? variance / binomial : 1,
    devices: k,
    trials,
  };
}

export interface ClusteredComparison {
  /** Per arm: Wilson interval on the effective sample size N / max(1, deff). */
  readonly a: Interval;
  readonly b: Interval;
  /** pB - pA with Newcombe's hybrid interval built from the two effective-n Wilson intervals. */
  readonly difference: Interval;
  /** Wald z on the cluster-robust variance and its two-sided (fixed-horizon) p-value. */
  readonly z: number;
  readonly pValue: number;
  /** Cluster-robust variance of pB - pA (what the sequential test uses). */
  readonly variance: number;
  readonly designEffect: { readonly A: number; readonly B: number };
}

/**
 * B against A on per-device counts. Test: Wald z with the cluster-robust variance (feeds the
 * mSPRT like the request-level variance does). Intervals for display: Wilson/Newcombe on the
 * design-effect-adjusted sample size N / deff (Donner & Klar 2000, 6.2), deff floored at 1 so a
 * lucky low between-device spread never narrows them below the binomial ones.
 */
export function compareClusteredProportions(
  a: readonly ClusterCount[],
  b: readonly ClusterCount[],
  confidence = 0.95,
): ClusteredComparison {
  const A = clusteredProportion(a);
  const B = clusteredProportion(b);
  const wilson = (p: ClusteredProportion): Interval => {
    const nEff = p.trials / Math.max(1, p.designEffect);
    return { ...wilsonInterval(p.estimate * nEff, nEff, confidence), estimate: p.estimate };
  };
  const ia = wilson(A);
  const ib = wilson(B);
  const d = B.estimate - A.estimate;
  const variance = A.variance + B.variance;
  const z = variance > 0 ? d / Math.sqrt(variance) : 0;
  return {
    a: ia,
    b: ib,
    difference: {
      estimate: d,
      low: d - Math.sqrt((B.estimate - ib.low) ** 2 + (ia.high - A.estimate) ** 2),
      high: d + Math.sqrt((ib.high - B.estimate) ** 2 + (A.estimate - ia.low) ** 2),
    },
    z,
    pValue: variance > 0 ? twoSidedP(z) : 1,
    variance,
    designEffect: { A: A.designEffect, B: B.designEffect },
  };
}

/** Per-device q-quantile of each non-empty sketch. */
export function deviceQuantiles(sketches: readonly LatencySketch[], q: number): number[] {
  return sketches.filter((s) => s.count > 0).map((s) => s.quantile(q));
}

/** Median of values with the distribution-free order-statistic interval (Conover 3.2). */
function medianInterval(
  values: readonly number[],
  z: number,
): { value: number; low: number; high: number } {
  const v = [...values].sort((x, y) => x - y);
  const k = v.length;
  if (k === 0) return { value: NaN, low: NaN, high: NaN };
  const at = (r: number): number => v[Math.min(k - 1, Math.max(0, r))]!;
  const mid = (k - 1) / 2;
  const half = z * Math.sqrt(k * 0.25);
  return {
    value: (at(Math.floor(mid)) + at(Math.ceil(mid))) / 2,
    low: at(Math.floor(mid - half)),
    high: at(Math.ceil(mid + half)),
  };
}

/**
 * p50/p95/p99 compared over devices: each device contributes its own q-quantile; per arm the
 * median device value with its order-statistic interval, and the difference is the
 * Hodges-Lehmann shift over devices with the Moses interval at multiplier z.
 */
export function deviceQuantileDifferences(
  a: readonly LatencySketch[],
  b: readonly LatencySketch[],
  options: { alpha?: number; z?: number } = {},
): QuantileDifference[] {
  const z = options.z ?? zTwoSided(options.alpha ?? 0.05);
  return REPORTED_QUANTILES.map((q) => {
    const da = deviceQuantiles(a, q);
    const db = deviceQuantiles(b, q);
    const ia = medianInterval(da, z);
    const ib = medianInterval(db, z);
    if (da.length === 0 || db.length === 0) {
      return {
        q,
        a: { q, ...ia },
        b: { q, ...ib },
        difference: NaN,
        low: NaN,
        high: NaN,
        relativePct: NaN,
      };
    }
    const binsA = binsFromValues(da);
    const binsB = binsFromValues(db);
    const hl = hodgesLehmann(binsA, binsB, {
      z: Number.isFinite(z) ? z : 1e6,
      varianceU: mannWhitney(binsA, binsB).varianceU,
    });
    return {
      q,
      a: { q, ...ia },
      b: { q, ...ib },
      difference: hl.shift,
      low: hl.low,
      high: hl.high,
      relativePct: ia.value > 0 ? (hl.shift / ia.value) * 100 : NaN,
    };
  });
}
