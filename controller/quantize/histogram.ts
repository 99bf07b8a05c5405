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
  const lanes = new Uint32Array(h.counts.length * HISTOGRAM_LANES);
  countBins(lanes, data, 1 / h.binWidth, h.counts.length - 1);
  foldLanes(h.counts, lanes);
}

/** Interleaved sub-histograms per bin in `countBins` (see there). */
export const HISTOGRAM_LANES = 4;

/**
 * The histogram kernel: adds |x| bin counts of `data` into `lanes`, HISTOGRAM_LANES interleaved
 * counters per bin (bin b of lane j at b*4 + j). Four lanes because after a ReLU about half the
 * values are exactly 0 and land in one bin: with a single counter every increment waits for the
 * previous store to the same address; four independent counters break that chain (~15% faster
 * on the Fashion-MNIST activations). `|x| * inv` is in [0, bins] (absMax bounds the data) so
 * `| 0` truncates like floor.
 *
 * Counting inside onnxruntime instead (Abs -> Cast(double) -> Mul -> Cast(int64) -> Min, then
 * ScatterElements with reduction 'add', opset 16) gave bit-identical bins but cost several times
 * more: ScatterElements alone took ~12 ns per value against ~3.5 ns for this loop (onnxruntime
 * 1.30 profile, Fashion-MNIST sample). Skipping exact zeros with a branch was slower too (the
 * zeros are not predictable).
 */
export function countBins(
  lanes: Uint32Array,
  data: ArrayLike<number>,
  inv: number,
  last: number,
): void {
  const n = data.length;
  const n4 = n - (n % 4);
  let i = 0;
  for (; i < n4; i += 4) {
    const a = data[i]!;
    const b = data[i + 1]!;
    const c = data[i + 2]!;
    const d = data[i + 3]!;
    let ba = ((a < 0 ? -a : a) * inv) | 0;
    let bb = ((b < 0 ? -b : b) * inv) | 0;
    let bc = ((c < 0 ? -c : c) * inv) | 0;
    let bd = ((d < 0 ? -d : d) * inv) | 0;
    if (ba > last) ba = last;
    if (bb > last) bb = last;
    if (bc > last) bc = last;
    if (bd > last) bd = last;
    lanes[ba * 4] = lanes[ba * 4]! + 1;
    lanes[bb * 4 + 1] = lanes[bb * 4 + 1]! + 1;
    lanes[bc * 4 + 2] = lanes[bc * 4 + 2]! + 1;
    lanes[bd * 4 + 3] = lanes[bd * 4 + 3]! + 1;
  }
  for (; i < n; i++) {
    const v = data[i]!;
    let b = ((v < 0 ? -v : v) * inv) | 0;
    if (b > last) b = last;
    lanes[b * 4] = lanes[b * 4]! + 1;
  }
}

/** Add the lanes of `countBins` into per-bin counts. */
export function foldLanes(counts: Float64Array, lanes: Uint32Array): void {
  for (let b = 0; b < counts.length; b++) {
    const k = b * HISTOGRAM_LANES;
    counts[b] = counts[b]! + lanes[k]! + lanes[k + 1]! + lanes[k + 2]! + lanes[k + 3]!;
  }
}
