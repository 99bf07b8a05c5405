// A LatencySketch seen as a sorted list of bins: each DDSketch bucket is treated as a group of
// tied observations at the bucket's representative value. That is what makes the rank tests
// below work on merged fleet telemetry without raw samples (the relative error of a value is at
// most SKETCH_RELATIVE_ACCURACY, so ties only merge values within 0.5 % of each other).
import type { LatencySketch } from '../sketch.js';

export interface Bins {
  /** Representative values, strictly ascending. */
  readonly values: readonly number[];
  /** Observation count per value (> 0). */
  readonly counts: readonly number[];
  readonly total: number;
}

/**
 * Bins of a sketch, ascending. The representative of key k is 2 gamma^k / (1 + gamma) (the
 * library's LogarithmicMapping.value with index offset 0), clamped to the sketch's [min, max];
 * the zero bucket sits at 0.
 */
export function sketchBins(sketch: LatencySketch): Bins {
  const m = sketch.toMessage();
  const values: number[] = [];
  const counts: number[] = [];
  if (m.zeroCount > 0) {
    values.push(0);
    counts.push(m.zeroCount);
  }
  const scale = 2 / (1 + m.gamma);
  const logGamma = Math.log(m.gamma);
  m.binCounts.forEach((c, i) => {
    if (c <= 0) return;
    const v = Math.exp((m.binOffset + i - m.indexOffset) * logGamma) * scale;
    const clamped = Math.min(Math.max(v, m.min), m.max);
    const last = values.length - 1;
    // Clamping can make the first/last buckets coincide with a neighbour: keep values unique.
    if (last >= 0 && clamped <= values[last]!) counts[last]! += c;
    else {
      values.push(clamped);
      counts.push(c);
    }
  });
  return { values, counts, total: counts.reduce((s, c) => s + c, 0) };
}

/** Bins from raw values (tests, golden data). */
export function binsFromValues(xs: readonly number[]): Bins {
  const sorted = [...xs].sort((a, b) => a - b);
  const values: number[] = [];
  const counts: number[] = [];
  for (const x of sorted) {
    if (values.length > 0 && values[values.length - 1] === x) counts[counts.length - 1]! += 1;
    else {
      values.push(x);
      counts.push(1);
    }
  }
  return { values, counts, total: sorted.length };
}

/** Same distribution moved: every value v becomes f(v) (f must be increasing). */
export function mapBins(bins: Bins, f: (v: number) => number): Bins {
  return { values: bins.values.map(f), counts: bins.counts, total: bins.total };
}

/**
 * Merge adjacent bins k at a time (count-weighted mean value) until there are at most maxBins.
 * Used only to bound the pairwise work of the Hodges-Lehmann estimate.
 */
export function coarsenBins(bins: Bins, maxBins: number): Bins {
  const k = Math.ceil(bins.values.length / maxBins);
  if (k <= 1) return bins;
  const values: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < bins.values.length; i += k) {
    let c = 0;
    let s = 0;
    for (let j = i; j < Math.min(i + k, bins.values.length); j++) {
      c += bins.counts[j]!;
      s += bins.counts[j]! * bins.values[j]!;
    }
    values.push(s / c);
    counts.push(c);
  }
  return { values, counts, total: bins.total };
}
