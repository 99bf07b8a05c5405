// Proportions: Wilson score intervals, Newcombe's interval for a difference, the two-proportion z
// test, McNemar's test for paired (shadow) results and the agreement rate.
import { twoSidedP, zTwoSided } from './normal.js';

export interface Interval {
  readonly estimate: number;
  readonly low: number;
  readonly high: number;
}

/** Wilson score interval for x successes in n trials (Wilson 1927). n = 0 -> [0, 1]. */
export function wilsonInterval(x: number, n: number, confidence = 0.95): Interval {
  if (n <= 0) return { estimate: NaN, low: 0, high: 1 };
  const z = zTwoSided(1 - confidence);
  const p = x / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { estimate: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

export interface ProportionComparison {
  readonly a: Interval;
  readonly b: Interval;
  /** pB - pA with Newcombe's hybrid score interval (method 10, Newcombe 1998). */
  readonly difference: Interval;
  /** Pooled two-proportion z statistic and its two-sided p-value. */
  readonly z: number;
  readonly pValue: number;
  /** Unpooled variance of pB - pA (what the sequential test uses). */
  readonly variance: number;
}

export function compareProportions(
  xA: number,
  nA: number,
  xB: number,
  nB: number,
  confidence = 0.95,
): ProportionComparison {
  const a = wilsonInterval(xA, nA, confidence);
  const b = wilsonInterval(xB, nB, confidence);
  const pA = nA > 0 ? xA / nA : NaN;
  const pB = nB > 0 ? xB / nB : NaN;
  const d = pB - pA;
  const difference = {
    estimate: d,
    low: d - Math.sqrt((pB - b.low) ** 2 + (a.high - pA) ** 2),
    high: d + Math.sqrt((b.high - pB) ** 2 + (pA - a.low) ** 2),
  };
  const pooled = (xA + xB) / (nA + nB);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / nA + 1 / nB));
  const z = se > 0 ? d / se : 0;
  return {
    a,
    b,
    difference,
    z,
    pValue: se > 0 ? twoSidedP(z) : 1,
    variance: (pA * (1 - pA)) / nA + (pB * (1 - pB)) / nB,
  };
}

export interface McNemarResult {
  /** Pairs where only A was right / only B was right. */
  readonly aOnly: number;
  readonly bOnly: number;
  readonly method: 'exact' | 'chi-square';
  readonly statistic: number;
  readonly pValue: number;
  /** Paired accuracy difference (bOnly - aOnly) / pairs and its variance estimate. */
  readonly difference: number;
  readonly variance: number;
}

/** Below this many discordant pairs the exact binomial test is used (chi-square is poor). */
export const MCNEMAR_EXACT_BELOW = 25;

/**
 * McNemar's test on the discordant pairs: exact two-sided binomial (b ~ Bin(b + c, 1/2)) when
 * b + c < 25, else chi-square with Edwards' continuity correction (|b - c| - 1)^2 / (b + c).
 */
export function mcNemar(aOnly: number, bOnly: number, pairs: number): McNemarResult {
  const m = aOnly + bOnly;
  const difference = pairs > 0 ? (bOnly - aOnly) / pairs : 0;
  const variance = pairs > 0 ? (m - (bOnly - aOnly) ** 2 / pairs) / (pairs * pairs) : 0;
  if (m === 0) {
    return { aOnly, bOnly, method: 'exact', statistic: 0, pValue: 1, difference, variance };
  }
  if (m < MCNEMAR_EXACT_BELOW) {
    const k = Math.min(aOnly, bOnly);
    let tail = 0;
    let term = Math.pow(0.5, m); // C(m, 0) / 2^m
    for (let i = 0; i <= k; i++) {
      tail += term;
      term = (term * (m - i)) / (i + 1);
    }
    return {
      aOnly,
      bOnly,
      method: 'exact',
      statistic: k,
      pValue: Math.min(1, 2 * tail),
      difference,
      variance,
    };
  }
  const chi = Math.max(0, Math.abs(bOnly - aOnly) - 1) ** 2 / m;
  return {
    aOnly,
    bOnly,
    method: 'chi-square',
    statistic: chi,
    // A chi-square with 1 degree of freedom is a squared standard normal.
    pValue: twoSidedP(Math.sqrt(chi)),
    difference,
    variance,
  };
}

/** Top-1 agreement of B with A over shadow pairs, with a Wilson interval. */
export function agreementRate(agree: number, pairs: number, confidence = 0.95): Interval {
  return wilsonInterval(agree, pairs, confidence);
}
