// Threshold methods of tpu-mlir's run_calibration (REFERENCE.md section 1): max, percentile 99.99,
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
 * last one; Q = the first i bins merged into 128 levels, each level spread evenly over its
 * non-empty bins; pick the i minimising KL(P||Q). The threshold is the upper edge of bin i-1.
 */
export function thresholdKl(h: AbsHistogram): number {
  const counts = h.counts;
  const bins = counts.length;
  if (total(counts) === 0) return h.absMax;
  const suffix = new Float64Array(bins + 1);
  for (let b = bins - 1; b >= 0; b--) suffix[b] = suffix[b + 1]! + counts[b]!;
  let best = bins;
  let bestKl = Infinity;
  const p = new Float64Array(bins);
  const q = new Float64Array(bins);
  for (let i = QUANT_LEVELS; i <= bins; i++) {
    for (let b = 0; b < i; b++) p[b] = counts[b]!;
    p[i - 1] = p[i - 1]! + suffix[i]!;
    const merge = Math.floor(i / QUANT_LEVELS);
    for (let level = 0; level < QUANT_LEVELS; level++) {
      const start = level * merge;
      const stop = level === QUANT_LEVELS - 1 ? i : start + merge;
      let sum = 0;
      let nonzero = 0;
      for (let b = start; b < stop; b++) {
        sum += counts[b]!;
        if (p[b] !== 0) nonzero++;
      }
      const share = nonzero > 0 ? sum / nonzero : 0;
      for (let b = start; b < stop; b++) q[b] = p[b] !== 0 ? share : 0;
    }
    const kl = klDivergence(p, q, i);
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  return best * h.binWidth;
}

/**
 * KL(P||Q) over the first n entries after normalising both; empty Q bins where P is not empty are
 * smoothed with a small epsilon (as the reference algorithm does) so the divergence stays finite.
 */
export function klDivergence(p: Float64Array, q: Float64Array, n: number): number {
  const eps = 1e-4;
  let sp = 0;
  let sq = 0;
  for (let b = 0; b < n; b++) {
    sp += p[b]!;
    sq += q[b]!;
  }
  if (sp === 0) return 0;
  if (sq === 0) return Infinity;
  let kl = 0;
  for (let b = 0; b < n; b++) {
    const pb = p[b]! / sp;
    if (pb === 0) continue;
    const qb = Math.max(q[b]! / sq, eps / n);
    kl += pb * Math.log(pb / qb);
  }
  return kl;
}

/**
 * MSE threshold: the candidate T (bin edges from bin 128 up) minimising the expected squared error
 * of symmetric INT8 quantization with step s = T/128 over the histogram: s^2/12 rounding noise for
 * values inside the range, (|x| - 127 s)^2 clipping error outside (bin centres stand for values).
 */
export function thresholdMse(h: AbsHistogram): number {
  const counts = h.counts;
  const bins = counts.length;
  const w = h.binWidth;
  if (total(counts) === 0) return h.absMax;
  let best = bins;
  let bestErr = Infinity;
  for (let i = QUANT_LEVELS; i <= bins; i++) {
    const s = (i * w) / QUANT_LEVELS;
    const clip = 127 * s;
    const noise = (s * s) / 12;
    let err = 0;
    for (let b = 0; b < bins; b++) {
      const c = counts[b]!;
      if (c === 0) continue;
      const x = (b + 0.5) * w;
      err += x <= clip ? c * noise : c * (x - clip) * (x - clip);
    }
    if (err < bestErr) {
      bestErr = err;
      best = i;
    }
  }
  return best * w;
}
