// Threshold methods of tpu-mlir's run_calibration (docs/vendor.md section 1): max, percentile 99.99,
// KL divergence (the vendor default) and MSE. Each takes the |x| histogram of one tensor and returns
// the symmetric threshold T; the activation scale is then T/128 (quant-math.ts).
import { bmfError } from '../../shared/errors.js';
import type { AbsHistogram } from './histogram.js';

export const THRESHOLD_METHODS = ['kl', 'mse', 'max', 'percentile9999'] as const;
export type ThresholdMethod = (typeof THRESHOLD_METHODS)[number];

/** INT8 has 128 magnitude levels per sign; the KL search quantizes the reference to this many. */
export const QUANT_LEVELS = 128;

export function parseThresholdMethod(s: string): ThresholdMethod {
  if ((THRESHOLD_METHODS as readonly string[]).includes(s)) return s as ThresholdMethod;
  throw bmfError('BMF_ERR_USAGE', {
    reason: `unknown threshold method "${s}": expected one of ${THRESHOLD_METHODS.join(', ')}`,
  });
}

export function thresholdFor(method: ThresholdMethod, h: AbsHistogram): number {
  switch (method) {
    case 'max':
      return h.absMax;
    case 'percentile9999':
      return thresholdPercentile(h, 0.9999);
    case 'kl':
      return thresholdKl(h);
    case 'mse':
      return thresholdMse(h);
  }
}

function total(counts: Float64Array): number {
  let s = 0;
  for (const c of counts) s += c;
  return s;
}

/** Smallest bin upper edge below which at least `fraction` of the samples lie. */
export function thresholdPercentile(h: AbsHistogram, fraction: number): number {
  const target = total(h.counts) * fraction;
  let cum = 0;
  for (let b = 0; b < h.counts.length; b++) {
    cum += h.counts[b]!;
    if (cum >= target && cum > 0) return (b + 1) * h.binWidth;
  }
  return h.absMax;
}

/**
 * KL-divergence threshold (the TensorRT "entropy calibration" algorithm, as tpu-mlir uses it):
 * for every candidate i in [128, bins], P = the first i bins with the clipped tail added to the
 * last one; Q = the first i bins merged into 128 levels, each level's mass spread evenly over the
 * bins where P is not empty; pick the i minimising KL(P||Q). The threshold is the upper edge of
 * bin i-1. Where Q is empty but P is not (only possible in the last level, which received the
 * tail), Q takes eps/i (smoothing keeps the divergence finite).
 *
 * Cost: within a level Q is constant on P's support, so sum p log(p/q) over a level is
 * (sum c log c - C log q) / Sp from prefix sums of c and c log c; levels 0..126 only change with
 * the merge width, so each candidate costs O(1) and the search O(bins). `klDivergenceDirect` is the plain O(i) definition the
 * tests compare against.
 *
 * The zero bin is first given its neighbour's count (as the entropy calibrators of TensorRT's
 * tooling do): after a ReLU half the values are exactly 0, and that spike would otherwise dominate
 * the divergence and drive the threshold far too low.
 */
export function thresholdKl(h: AbsHistogram): number {
  const counts = klReferenceCounts(h.counts);
  const bins = counts.length;
  const sum = total(counts);
  if (sum === 0) return h.absMax;
  const cPrefix = new Float64Array(bins + 1);
  const clogcPrefix = new Float64Array(bins + 1);
  const nzPrefix = new Float64Array(bins + 1);
  for (let b = 0; b < bins; b++) {
    const c = counts[b]!;
    cPrefix[b + 1] = cPrefix[b]! + c;
    clogcPrefix[b + 1] = clogcPrefix[b]! + (c > 0 ? c * Math.log(c) : 0);
    nzPrefix[b + 1] = nzPrefix[b]! + (c > 0 ? 1 : 0);
  }
  // Levels 0..126 depend on i only through merge = floor(i/128): sum over them of
  // (sum c log c - mass log share), computed once per merge width.
  const fullLevels = new Map<number, number>();
  const levelsTerm = (merge: number): number => {
    let v = fullLevels.get(merge);
    if (v === undefined) {
      v = 0;
      for (let level = 0; level < QUANT_LEVELS - 1; level++) {
        const start = level * merge;
        const stop = start + merge;
        const mass = cPrefix[stop]! - cPrefix[start]!;
        if (mass === 0) continue;
        const share = mass / (nzPrefix[stop]! - nzPrefix[start]!);
        v += clogcPrefix[stop]! - clogcPrefix[start]! - mass * Math.log(share);
      }
      fullLevels.set(merge, v);
    }
    return v;
  };
  const eps = 1e-4;
  const logSp = Math.log(sum); // P holds every sample (the tail is folded into bin i-1)
  let best = bins;
  let bestKl = Infinity;
  for (let i = QUANT_LEVELS; i <= bins; i++) {
    const sq = cPrefix[i]!;
    if (sq === 0) continue;
    const logSq = Math.log(sq);
    const merge = Math.floor(i / QUANT_LEVELS);
    const start = (QUANT_LEVELS - 1) * merge;
    // Levels 0..126: sum c (log c - log Sp - log share + log Sq).
    let acc = levelsTerm(merge) - cPrefix[start]! * (logSp - logSq);
    // Last level [start, i): bins before i-1 from prefix sums, bin i-1 with the tail.
    const lastP = counts[i - 1]! + (sum - cPrefix[i]!);
    const mass = cPrefix[i]! - cPrefix[start]!;
    const nonzero = nzPrefix[i - 1]! - nzPrefix[start]! + (lastP > 0 ? 1 : 0);
    const share = nonzero > 0 ? mass / nonzero : 0;
    if (share > 0) {
      const logQ = Math.log(share) - logSq;
      const before = cPrefix[i - 1]! - cPrefix[start]!;
      acc += clogcPrefix[i - 1]! - clogcPrefix[start]! - before * (logSp + logQ);
      if (lastP > 0) acc += lastP * (Math.log(lastP) - logSp - logQ);
    } else if (lastP > 0) {
      acc += lastP * (Math.log(lastP) - logSp - Math.log(eps / i));
    }
    const kl = acc / sum;
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  return best * h.binWidth;
}

/** The histogram the KL search sees: the zero-value spike flattened to its neighbour. */
export function klReferenceCounts(counts: Float64Array): Float64Array {
  const c = Float64Array.from(counts);
  if (c.length > 1) c[0] = c[1]!;
  return c;
}

/** KL(P||Q) for candidate i straight from the definition above (reference for the tests). */
export function klDivergenceDirect(counts: Float64Array, i: number): number {
  const bins = counts.length;
  const p = Float64Array.from(counts.subarray(0, i));
  for (let b = i; b < bins; b++) p[i - 1] = p[i - 1]! + counts[b]!;
  const q = new Float64Array(i);
  const merge = Math.floor(i / QUANT_LEVELS);
  for (let level = 0; level < QUANT_LEVELS; level++) {
    const start = level * merge;
    const stop = level === QUANT_LEVELS - 1 ? i : start + merge;
    let mass = 0;
    let nonzero = 0;
    for (let b = start; b < stop; b++) {
      mass += counts[b]!;
      if (p[b] !== 0) nonzero++;
    }
    for (let b = start; b < stop; b++) q[b] = p[b] !== 0 && nonzero > 0 ? mass / nonzero : 0;
  }
  const sp = p.reduce((a, b) => a + b, 0);
  const sq = q.reduce((a, b) => a + b, 0);
  let kl = 0;
  for (let b = 0; b < i; b++) {
    if (p[b] === 0) continue;
    const qb = q[b]! > 0 ? q[b]! / sq : 1e-4 / i;
    kl += (p[b]! / sp) * Math.log(p[b]! / sp / qb);
  }
  return kl;
}

/**
 * MSE threshold: the candidate T (bin edges from bin 128 up) minimising the expected squared error
 * of symmetric INT8 quantization with step s = T/128 over the histogram: s^2/12 rounding noise for
 * values inside the range, (|x| - 127 s)^2 clipping error outside (bin centres stand for values).
 * Prefix sums of c, c x and c x^2 make each candidate O(1).
 */
export function thresholdMse(h: AbsHistogram): number {
  const counts = h.counts;
  const bins = counts.length;
  const w = h.binWidth;
  if (total(counts) === 0) return h.absMax;
  const c0 = new Float64Array(bins + 1);
  const c1 = new Float64Array(bins + 1);
  const c2 = new Float64Array(bins + 1);
  for (let b = 0; b < bins; b++) {
    const c = counts[b]!;
    const x = (b + 0.5) * w;
    c0[b + 1] = c0[b]! + c;
    c1[b + 1] = c1[b]! + c * x;
    c2[b + 1] = c2[b]! + c * x * x;
  }
  let best = bins;
  let bestErr = Infinity;
  for (let i = QUANT_LEVELS; i <= bins; i++) {
    const s = (i * w) / QUANT_LEVELS;
    const clip = 127 * s;
    // Bins whose centre lies at or below clip: b + 0.5 <= clip / w.
    const inside = Math.min(bins, Math.max(0, Math.floor(clip / w - 0.5) + 1));
    const n = c0[bins]! - c0[inside]!;
    const sx = c1[bins]! - c1[inside]!;
    const sxx = c2[bins]! - c2[inside]!;
    const err = c0[inside]! * ((s * s) / 12) + (sxx - 2 * clip * sx + clip * clip * n);
    if (err < bestErr) {
      bestErr = err;
      best = i;
    }
  }
  return best * w;
}
