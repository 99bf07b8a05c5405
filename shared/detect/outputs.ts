// A model output as the decoders read it: numbers, shape, and the affine map to real values.
// INT8/UINT8 outputs carry the BMODEL's scale and zero point (real = (q - zero_point) * scale);
// float outputs are already real values, whatever scale the BMODEL records for them (the
// vendor's INT8 BMODELs keep a calibration scale on their FP32 outputs too).
import { bmfError } from '../errors.js';
import type { Tensor } from '../tensor.js';

export interface OutputQuantization {
  readonly scale: number;
  readonly zeroPoint: number;
}

export interface OutputView {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
  readonly scale: number;
  readonly zero: number;
}

/** IEEE 754 half -> number (float16 outputs are rare; converted once). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

export function viewOutput(
  decoder: string,
  name: string,
  tensor: Tensor | undefined,
  quant?: OutputQuantization,
): OutputView {
  if (!tensor) throw bmfError('BMF_ERR_DECODER_OUTPUTS', { decoder, reason: `no output ${name}` });
  const shape = tensor.shape;
  switch (tensor.dtype) {
    case 'float32':
    case 'int32':
      return { name, shape, data: tensor.data as ArrayLike<number>, scale: 1, zero: 0 };
    case 'int8':
    case 'uint8':
      return {
        name,
        shape,
        data: tensor.data as ArrayLike<number>,
        scale: quant?.scale ?? 1,
        zero: quant?.zeroPoint ?? 0,
      };
    case 'float16': {
      const src = tensor.data as Uint16Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = halfToFloat(src[i] as number);
      return { name, shape, data: out, scale: 1, zero: 0 };
    }
    default:
      throw bmfError('BMF_ERR_DECODER_OUTPUTS', {
        decoder,
        reason: `output ${name} has dtype ${tensor.dtype}, which no decoder reads`,
      });
  }
}

/** Fail unless `shape` has the given rank and every fixed dimension (non-undefined) matches. */
export function expectShape(
  decoder: string,
  name: string,
  shape: readonly number[],
  want: readonly (number | undefined)[],
): void {
  const ok =
    shape.length === want.length && want.every((w, i) => w === undefined || shape[i] === w);
  if (!ok) {
    const pattern = want.map((w) => (w === undefined ? '*' : String(w))).join(',');
    throw bmfError('BMF_ERR_DECODER_OUTPUTS', {
      decoder,
      reason: `output ${name} has shape [${shape.join(',')}], expected [${pattern}]`,
    });
  }
}

/** Feature-map size a stride gives on this input (ceil, as strided convolutions with padding). */
export function expectGrid(
  decoder: string,
  name: string,
  grid: readonly [number, number],
  stride: number,
  input: readonly [number, number],
): void {
  const want = [Math.ceil(input[0] / stride), Math.ceil(input[1] / stride)];
  if (grid[0] !== want[0] || grid[1] !== want[1]) {
    throw bmfError('BMF_ERR_DECODER_OUTPUTS', {
      decoder,
      reason:
        `output ${name} is a ${grid[0]}x${grid[1]} grid; stride ${stride} on a ` +
        `${input[0]}x${input[1]} input gives ${want[0]}x${want[1]}`,
    });
  }
}
