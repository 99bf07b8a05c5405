// Per-tensor activation statistics for calibration: min, max, abs-max and a histogram of |x|.
//
// tpu-mlir's run_calibration makes two passes (min/max first, then 2048-bin histograms over
// [0, absmax]; REFERENCE.md section 1). We do the same two passes, but the calibration runner keeps
// the first pass's activations in memory when they fit a budget, so the second pass usually costs
// no inference (see calibrate.ts). The histogram therefore always spans exactly [0, absMax].

export const HISTOGRAM_BINS = 2048;

export interface TensorRange {
  min: number;
  max: number;
  absMax: number;
}

export interface AbsHistogram {
  /** Counts of |x| in HISTOGRAM_BINS equal bins over [0, absMax]. */
  readonly counts: Float64Array;
  readonly absMax: number;
  readonly binWidth: number;
}

export function emptyRange(): TensorRange {
  return { min: Infinity, max: -Infinity, absMax: 0 };
}

/** Fold one activation into a running range (first pass). */
export function updateRange(range: TensorRange, data: ArrayLike<number>): void {
  let { min, max } = range;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  range.min = min;
  range.max = max;
  range.absMax = Math.max(Math.abs(min), Math.abs(max), range.absMax);
}

export function createHistogram(absMax: number, bins = HISTOGRAM_BINS): AbsHistogram {
  // An all-zero tensor still needs a positive width so thresholds stay positive.
  const top = absMax > 0 ? absMax : 1e-8;
  return { counts: new Float64Array(bins), absMax: top, binWidth: top / bins };
}

/** Fold one activation into a histogram (second pass); values above absMax land in the last bin. */
export function updateHistogram(h: AbsHistogram, data: ArrayLike<number>): void {
  const last = h.counts.length - 1;
  const inv = 1 / h.binWidth;
  const counts = h.counts;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // |x| * inv is in [0, bins] here (absMax bounds the data), so `| 0` truncates like floor.
    const b = ((v < 0 ? -v : v) * inv) | 0;
    const idx = b > last ? last : b;
    counts[idx] = counts[idx]! + 1;
  }
}
