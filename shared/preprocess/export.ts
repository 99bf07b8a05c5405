// The same spec, spelled for the vendor toolchains, so a model compiled with the vendor tools
// sees the preprocessing bmfleet applies at calibration and at runtime.
import { bmfError } from '../errors.js';
import type { PreprocessSpec } from './spec.js';

/** Shortest decimal that round-trips the number (what JSON would print). */
const num = (v: number): string => String(v);

/**
 * tpu-mlir model_transform.py flags (docs/vendor.md section 1), one argv token each. The keep-ratio
 * flags are only emitted when keep_aspect_ratio is set (model_transform ignores them otherwise).
 * model_transform has no interpolation flag: the vendor resizes with OpenCV INTER_LINEAR. A
 * centre crop (input_dims smaller than resize_dims) needs no flag: model_transform crops
 * resize_dims down to the model's --input_shapes itself.
 */
export function toModelTransformArgs(spec: PreprocessSpec): string[] {
  const args = ['--resize_dims', spec.resize_dims.map(num).join(',')];
  if (spec.keep_aspect_ratio) {
    args.push(
      '--keep_aspect_ratio',
      '--keep_ratio_mode',
      spec.keep_ratio_mode,
      '--pad_value',
      num(spec.pad_value),
      '--pad_type',
      spec.pad_type,
    );
  }
  args.push(
    '--pixel_format',
    spec.pixel_format,
    '--channel_format',
    spec.channel_format,
    '--mean',
    spec.mean.map(num).join(','),
    '--scale',
    spec.scale.map(num).join(','),
  );
  return args;
}

function notExpressible(field: string, reason: string): never {
  throw bmfError('BMF_ERR_PREPROCESS_SPEC', {
    field,
    reason: `${reason}: not expressible in the tpu-nntc --cali_image_preprocess string`,
  });
}

/**
 * tpu-nntc `--cali_image_preprocess` string: `;` between ops, `,` between parameters, `:` between
 * per-channel values. nntc reads images as BGR and applies mean_value/scale to them before the
 * optional bgr2rgb swap, so the values are listed in BGR order (the vendor's ResNet-50 demo passes
 * `mean_value=103.53:116.28:123.675` with `bgr2rgb=True` for a model fed RGB with R mean 123.675).
 * Our mean/scale are in pixel_format order, hence reversed for rgb.
 */
export function toNntcPreprocessString(spec: PreprocessSpec): string {
  if (spec.keep_aspect_ratio) notExpressible('keep_aspect_ratio', 'aspect-preserving resize');
  if (spec.input_dims.join() !== spec.resize_dims.join()) {
    notExpressible('input_dims', 'a centre crop after the resize');
  }
  if (spec.pixel_format === 'gray') notExpressible('pixel_format', 'grey input');
  if (spec.channel_format !== 'nchw') notExpressible('channel_format', 'nhwc layout');
  const rgb = spec.pixel_format === 'rgb';
  const inBgrOrder = (v: readonly number[]): string =>
    (rgb ? [...v].reverse() : [...v]).map(num).join(':');
  const [h, w] = spec.resize_dims;
  return (
    `resize_h=${h},resize_w=${w};` +
    `mean_value=${inBgrOrder(spec.mean)},scale=${inBgrOrder(spec.scale)},` +
    `bgr2rgb=${rgb ? 'True' : 'False'}`
  );
}
