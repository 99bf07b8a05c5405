// Mann-Whitney U (Wilcoxon rank-sum) and the Hodges-Lehmann shift with its Moses confidence
// interval, computed on binned distributions (one tied group per bin). Kayenta judges canary
// metrics the same way (docs/vendor.md section 5). Direction everywhere: B relative to A, so a
// positive shift means B is slower.
import { coarsenBins, type Bins } from './binned.js';
import { twoSidedP, zTwoSided } from './normal.js';

export interface RankTest {
  readonly nA: number;
  readonly nB: number;
  /** U of arm B: pairs (a, b) with b > a, ties counted 1/2. */
  readonly uB: number;
  /** Tie-corrected variance of U under H0. */
  readonly varianceU: number;
  readonly z: number;
  /** Two-sided, normal approximation with tie correction, no continuity correction. */
  readonly pValue: number;
  /** P(B > A) + P(B = A) / 2 - 1/2: the effect on the "probability of superiority" scale. */
  readonly superiority: number;
}

/** Rank test of B against A. Requires both arms non-empty. */
export function mannWhitney(a: Bins, b: Bins): RankTest {
  const nA = a.total;
  const nB = b.total;
  const n = nA + nB;
  let i = 0;
  let j = 0;
  let below = 0; // observations (both arms) strictly below the current group
  let rankSumB = 0;
  let tieTerm = 0;
  while (i < a.values.length || j < b.values.length) {
    const va = i < a.values.length ? a.values[i]! : Infinity;
    const vb = j < b.values.length ? b.values[j]! : Infinity;
    const v = Math.min(va, vb);
    const ca = va === v ? a.counts[i++]! : 0;
    const cb = vb === v ? b.counts[j++]! : 0;
    const t = ca + cb;
    const midRank = below + (t + 1) / 2;
    rankSumB += cb * midRank;
    tieTerm += t * t * t - t;
    below += t;
  }
  const uB = rankSumB - (nB * (nB + 1)) / 2;
  const varianceU = n > 1 ? ((nA * nB) / 12) * (n + 1 - tieTerm / (n * (n - 1))) : 0;
  const z = varianceU > 0 ? (uB - (nA * nB) / 2) / Math.sqrt(varianceU) : 0;
  return {
    nA,
    nB,
    uB,
    varianceU,
    z,
    pValue: varianceU > 0 ? twoSidedP(z) : 1,
    superiority: uB / (nA * nB) - 0.5,
  };
}

export interface ShiftEstimate {
  /** Hodges-Lehmann: median of all pairwise differences b - a. */
  readonly shift: number;
  readonly low: number;
  readonly high: number;
  readonly confidence: number;
}

/** Bins per arm above which pairs are formed on coarsened bins (bounds work to ~160k pairs). */
export const HODGES_LEHMANN_MAX_BINS = 400;

/**
 * Hodges-Lehmann shift of B against A with the Moses interval: sort the nA*nB pairwise
 * differences (here: bin pairs weighted by countA*countB); the estimate is their median and the
 * interval runs from the C-th smallest to the C-th largest, C = nA nB / 2 - z sqrt(Var U)
 * (Hollander & Wolfe, Nonparametric Statistical Methods, 4.3; tie-corrected Var U). `z` may be
 * passed in (a sequential boundary) instead of the fixed-horizon quantile.
 */
export function hodgesLehmann(
  aIn: Bins,
  bIn: Bins,
  options: { confidence?: number; z?: number; varianceU?: number } = {},
): ShiftEstimate {
  const confidence = options.confidence ?? 0.95;
  const z = options.z ?? zTwoSided(1 - confidence);
  const a = coarsenBins(aIn, HODGES_LEHMANN_MAX_BINS);
  const b = coarsenBins(bIn, HODGES_LEHMANN_MAX_BINS);
  const pairs = a.values.length * b.values.length;
  const diffs = new Float64Array(pairs);
  const weights = new Float64Array(pairs);
  let k = 0;
  for (let i = 0; i < a.values.length; i++) {
    for (let j = 0; j < b.values.length; j++) {
      diffs[k] = b.values[j]! - a.values[i]!;
      weights[k++] = a.counts[i]! * b.counts[j]!;
    }
  }
  const order = new Uint32Array(pairs);
  for (let p = 0; p < pairs; p++) order[p] = p;
  order.sort((x, y) => diffs[x]! - diffs[y]!);
  const total = a.total * b.total;
  const varianceU = options.varianceU ?? mannWhitney(aIn, bIn).varianceU;
  const c = Math.max(1, Math.floor(total / 2 - z * Math.sqrt(varianceU)));
  /** Difference at 1-based weighted rank r. */
  const atRank = (r: number): number => {
    let cum = 0;
    for (let p = 0; p < pairs; p++) {
      cum += weights[order[p]!]!;
      if (cum >= r) return diffs[order[p]!]!;
    }
    return diffs[order[pairs - 1]!]!;
  };
  const median =
    total % 2 === 1 ? atRank((total + 1) / 2) : (atRank(total / 2) + atRank(total / 2 + 1)) / 2;
  return {
    shift: median,
    low: atRank(c),
    high: atRank(total - c + 1),
    confidence,
  };
}
