// Quantile differences (p50, p95, p99) of B against A with confidence intervals from sketches.
//
// Per arm: the distribution-free order-statistic interval for the q-quantile, ranks
// n q -+ z sqrt(n q (1 - q)) (normal approximation of Binomial(n, q), Conover, Practical
// Nonparametric Statistics, 3.2), read back from the sketch (which adds at most 0.5 % relative
// error). Difference: each arm's interval is built at confidence 1 - alpha/2 and the difference
// interval is [lowB - highA, highB - lowA] (Bonferroni: covers with probability >= 1 - alpha;
// conservative, which is the point).
import type { LatencySketch } from '../sketch.js';
import { zTwoSided } from './normal.js';

export interface QuantileInterval {
  readonly q: number;
  readonly value: number;
  readonly low: number;
  readonly high: number;
}

export interface QuantileDifference {
  readonly q: number;
  readonly a: QuantileInterval;
  readonly b: QuantileInterval;
  /** b - a in ms. */
  readonly difference: number;
  readonly low: number;
  readonly high: number;
  /** (b - a) / a in percent; NaN when a is 0. */
  readonly relativePct: number;
}

export const REPORTED_QUANTILES = [0.5, 0.95, 0.99] as const;

export function quantileInterval(sketch: LatencySketch, q: number, z: number): QuantileInterval {
  const n = sketch.count;
  if (n === 0) return { q, value: NaN, low: NaN, high: NaN };
  const value = sketch.quantile(q);
  if (n === 1) return { q, value, low: value, high: value };
  const half = z * Math.sqrt(n * q * (1 - q));
  // Ranks are 0-based like LatencySketch.quantile (rank q (n - 1)).
  const rankLow = Math.max(0, Math.floor(q * (n - 1) - half));
  const rankHigh = Math.min(n - 1, Math.ceil(q * (n - 1) + half));
  return {
    q,
    value,
    low: sketch.quantile(rankLow / (n - 1)),
    high: sketch.quantile(rankHigh / (n - 1)),
  };
}

/**
 * Differences at each quantile. `z` overrides the per-arm multiplier (a sequential boundary);
 * by default it is the fixed-horizon z for confidence 1 - alpha/2 per arm.
 */
export function quantileDifferences(
  a: LatencySketch,
  b: LatencySketch,
  options: { alpha?: number; z?: number; quantiles?: readonly number[] } = {},
): QuantileDifference[] {
  const z = options.z ?? zTwoSided((options.alpha ?? 0.05) / 2);
  return (options.quantiles ?? REPORTED_QUANTILES).map((q) => {
    const ia = quantileInterval(a, q, z);
    const ib = quantileInterval(b, q, z);
    return {
      q,
      a: ia,
      b: ib,
      difference: ib.value - ia.value,
      low: ib.low - ia.high,
      high: ib.high - ia.low,
      relativePct: ia.value > 0 ? ((ib.value - ia.value) / ia.value) * 100 : NaN,
    };
  });
}
