// How far a tensor is from a reference (a user's own pipeline), in input levels: the difference
// of each element taken back through the spec's scale (and the output quantization) to the 0-255
// pixel scale, so "off by one level" means one grey level whatever the normalisation.
import { bmfError } from '../errors.js';
import type { NpyArray } from '../npy.js';
import type { Tensor } from '../tensor.js';
import type { PreprocessSpec } from './spec.js';

export interface LevelDifference {
  readonly count: number;
  readonly maxAbs: number;
  readonly meanAbs: number;
  /** Share (0-1) of elements off by more than one level. */
  readonly offByMoreThanOne: number;
}

/** Allowance for float32 rounding when deciding "more than one level". */
const LEVEL_EPSILON = 1e-3;

const withoutLeadingOnes = (s: readonly number[]): string => {
  let i = 0;
  while (i < s.length - 1 && s[i] === 1) i++;
  return s.slice(i).join(',');
};

function mismatch(reason: string): never {
  throw bmfError('BMF_ERR_TENSOR_MISMATCH', { reason });
}

export function compareInLevels(
  ours: Tensor,
  reference: NpyArray,
  spec: PreprocessSpec,
): LevelDifference {
  if (withoutLeadingOnes(ours.shape) !== withoutLeadingOnes(reference.shape)) {
    mismatch(`shape [${ours.shape.join(', ')}] vs reference (${reference.shape.join(', ')})`);
  }
  const refFloat = /f\d$/.test(reference.descr);
  const oursFloat = ours.dtype === 'float32';
  if (refFloat !== oursFloat) {
    mismatch(`the spec makes ${ours.dtype}, the reference is ${reference.descr}`);
  }
  const quantStep = spec.output.dtype === 'float32' ? 1 : spec.output.scale;
  const [h, w] = spec.input_dims;
  const channels = spec.mean.length;
  const plane = h * w;
  const nchw = spec.channel_format === 'nchw';
  let max = 0;
  let sum = 0;
  let over = 0;
  const n = reference.values.length;
  for (let i = 0; i < n; i++) {
    const c = nchw ? Math.floor(i / plane) % channels : i % channels;
    const scale = Math.abs(spec.scale[c] as number) || 1;
    const d =
      (Math.abs((ours.data[i] as number) - (reference.values[i] as number)) * quantStep) / scale;
    if (d > max) max = d;
    sum += d;
    if (d > 1 + LEVEL_EPSILON) over++;
  }
  return { count: n, maxAbs: max, meanAbs: n ? sum / n : 0, offByMoreThanOne: n ? over / n : 0 };
}
