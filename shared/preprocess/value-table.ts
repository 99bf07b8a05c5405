// Per-channel lookup tables from an 8-bit pixel value to the tensor element. Pixels are uint8, so
// each channel has only 256 possible outputs: computing them once makes the hot loop a table read
// and makes the arithmetic exactly the vendor's float32 numpy `(x - mean) * scale` (each step
// rounded to float32 with Math.fround: the float64 difference and product of float32 operands are
// exact, so one fround per step is the correctly rounded float32 result).
import type { PreprocessOutput, PreprocessSpec } from './spec.js';

export type OutputArray = Float32Array | Int8Array | Uint8Array;

/** Round half away from zero (C `round()`); the rule for INT8-input quantization. */
export function roundHalfAwayFromZero(v: number): number {
  const t = Math.trunc(v);
  return Math.abs(v - t) >= 0.5 ? t + Math.sign(v) : t;
}

/** q = saturate(roundHalfAwayFromZero(y / scale) + zero_point) into the dtype's range. */
export function quantize(
  y: number,
  output: Exclude<PreprocessOutput, { dtype: 'float32' }>,
): number {
  const [lo, hi] = output.dtype === 'int8' ? [-128, 127] : [0, 255];
  const q = roundHalfAwayFromZero(y / output.scale) + output.zero_point;
  // NaN cannot reach here (finite inputs, positive scale); +-Infinity saturates.
  return q < lo ? lo : q > hi ? hi : q;
}

/** The float32 value of pixel x on channel c: (x - mean[c]) * scale[c] in float32 arithmetic. */
export function affineFloat32(x: number, mean: number, scale: number): number {
  return Math.fround(Math.fround(x - Math.fround(mean)) * Math.fround(scale));
}

export function allocateOutput(output: PreprocessOutput, length: number): OutputArray {
  if (output.dtype === 'float32') return new Float32Array(length);
  return output.dtype === 'int8' ? new Int8Array(length) : new Uint8Array(length);
}

/** channels x 256 table, channel-major: table[c * 256 + x]. */
export function buildValueTable(
  spec: Pick<PreprocessSpec, 'mean' | 'scale' | 'output'>,
): OutputArray {
  const channels = spec.mean.length;
  const table = allocateOutput(spec.output, channels * 256);
  for (let c = 0; c < channels; c++) {
    const mean = spec.mean[c] as number;
    const scale = spec.scale[c] as number;
    for (let x = 0; x < 256; x++) {
      const y = affineFloat32(x, mean, scale);
      table[c * 256 + x] = spec.output.dtype === 'float32' ? y : quantize(y, spec.output);
    }
  }
  return table;
}
