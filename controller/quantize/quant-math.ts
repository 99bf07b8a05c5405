// TPU INT8 conventions (docs/vendor.md section 1, "Quantization conventions on these TPUs"):
// symmetric INT8, activation scale = threshold/128 per tensor, weight scale = max|w|/127 per output
// channel, bias int32 with scale s_in * s_w, and on-chip requantization of the int32 accumulator by
// an integer multiplier and an arithmetic right shift.
//
// Rounding rule used everywhere in this module: round half away from zero (tpu-mlir's default
// rounding mode for BM1684X INT8). onnxruntime's QuantizeLinear rounds half to even; the two differ
// only on exact .5 ties of x/scale.

export const INT8_MIN = -128;
export const INT8_MAX = 127;
/** Weights use the symmetric range [-127, 127] so that negation never overflows. */
export const WEIGHT_MAX = 127;

export function roundHalfAwayFromZero(x: number): number {
  return Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
}

export function activationScale(threshold: number): number {
  return threshold / 128;
}

export function quantizeValue(x: number, scale: number, lo = INT8_MIN, hi = INT8_MAX): number {
  const q = roundHalfAwayFromZero(x / scale);
  return q < lo ? lo : q > hi ? hi : q;
}

export interface PerChannelWeights {
  readonly data: Int8Array;
  /** One scale per output channel. */
  readonly scales: Float32Array;
}

/**
 * Per-output-channel symmetric weight quantization. `axis` is the output-channel axis of `shape`
 * (0 for Conv [O,I,kh,kw] and Gemm with transB=1, 1 for Gemm transB=0 / MatMul [K,N]).
 */
export function quantizeWeightsPerChannel(
  w: Float32Array,
  shape: readonly number[],
  axis: number,
): PerChannelWeights {
  const channels = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  // Walked as runs of `inner` values sharing one channel (no division per element).
  const maxAbs = new Float64Array(channels);
  for (let start = 0, c = 0; start < w.length; start += inner, c = (c + 1) % channels) {
    let m = maxAbs[c]!;
    for (let i = start; i < start + inner; i++) {
      const a = Math.abs(w[i]!);
      if (a > m) m = a;
    }
    maxAbs[c] = m;
  }
  // A channel of zeros gets scale 1/127 so the scale stays positive (every weight maps to 0).
  const scales = Float32Array.from(maxAbs, (m) => (m > 0 ? m : 1) / WEIGHT_MAX);
  const data = new Int8Array(w.length);
  for (let start = 0, c = 0; start < w.length; start += inner, c = (c + 1) % channels) {
    const scale = scales[c]!;
    for (let i = start; i < start + inner; i++) {
      data[i] = quantizeValue(w[i]!, scale, -WEIGHT_MAX, WEIGHT_MAX);
    }
  }
  return { data, scales };
}

/** Bias as int32 with per-channel scale s_in * s_w[c]. */
export function quantizeBias(
  bias: Float32Array,
  inputScale: number,
  weightScales: Float32Array,
): { data: Int32Array; scales: Float32Array } {
  const scales = Float32Array.from(weightScales, (sw) => inputScale * sw);
  const data = new Int32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    const s = scales[c]!;
    const q = roundHalfAwayFromZero(bias[c]! / s);
    data[c] = Math.max(-2147483648, Math.min(2147483647, q));
  }
  return { data, scales };
}

export interface QuantizedMultiplier {
  /** Integer multiplier in [2^30, 2^31) (0 for a zero real multiplier). */
  readonly multiplier: number;
  /** Arithmetic right shift applied after the multiplication (may exceed 31). */
  readonly shift: number;
}

/**
 * Express a positive real multiplier (s_in * s_w / s_out) as multiplier * 2^-shift with a 31-bit
 * mantissa, the form the TPU's requantization instructions take.
 */
export function quantizeMultiplier(real: number): QuantizedMultiplier {
  if (!(real > 0) || !Number.isFinite(real)) return { multiplier: 0, shift: 0 };
  let shift = 0;
  let m = real;
  while (m < 0.5) {
    m *= 2;
    shift++;
  }
  while (m >= 1) {
    m /= 2;
    shift--;
  }
  let multiplier = Math.round(m * 2 ** 31);
  if (multiplier === 2 ** 31) {
    multiplier /= 2;
    shift--;
  }
  return { multiplier, shift: shift + 31 };
}

/**
 * Requantize an int32 accumulator: (acc * multiplier) >> shift with round half away from zero,
 * plus the output zero point (0 when symmetric), saturated to INT8. Computed in BigInt so the
 * 64-bit product is exact, as on the chip.
 */
export function requantize(acc: number, q: QuantizedMultiplier, zeroPoint = 0): number {
  const product = BigInt(acc) * BigInt(q.multiplier);
  let r: bigint;
  if (q.shift <= 0) {
    r = product << BigInt(-q.shift);
  } else {
    const half = 1n << BigInt(q.shift - 1);
    const mag = product < 0n ? -product : product;
    const shifted = (mag + half) >> BigInt(q.shift);
    r = product < 0n ? -shifted : shifted;
  }
  const v = Number(r) + zeroPoint;
  return v < INT8_MIN ? INT8_MIN : v > INT8_MAX ? INT8_MAX : v;
}
