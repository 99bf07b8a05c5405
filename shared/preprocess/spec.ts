// PreprocessSpec: how an image becomes a model input tensor, in the vocabulary of the vendor's
// tpu-mlir model_transform.py (docs/vendor.md section 1): y = (x - mean) * scale, defaults mean 0,
// scale 1, pixel_format bgr, channel_format nchw, pad_value 0, pad_type center. Specs arrive from
// bundle manifests and CLI files, so they are validated here, at the edge, and come out complete
// (defaults filled, mean/scale expanded to one value per channel) and frozen.
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { bmfError } from '../errors.js';

const Dim = Type.Integer({ minimum: 1, maximum: 16384 });

const Float32Output = Type.Object(
  { dtype: Type.Literal('float32') },
  { additionalProperties: false },
);

/** INT8-input models: q = saturate(roundHalfAwayFromZero(y / scale) + zero_point). */
const QuantizedOutput = Type.Object(
  {
    dtype: Type.Union([Type.Literal('int8'), Type.Literal('uint8')]),
    scale: Type.Number({ exclusiveMinimum: 0 }),
    zero_point: Type.Integer({ minimum: -128, maximum: 255, default: 0 }),
  },
  { additionalProperties: false },
);

/**
 * Resampling, named as users know it. The OpenCV names reproduce cv2.resize bit for bit on 8-bit
 * images (opencv-resize.ts); they are what the vendor tools and demos use, so INTER_LINEAR is the
 * default. The sharp_* names select a libvips kernel (anti-aliased when shrinking).
 */
export const cvInterpolations = ['INTER_LINEAR', 'INTER_NEAREST', 'INTER_AREA'] as const;
export const sharpInterpolations = [
  'sharp_nearest',
  'sharp_linear',
  'sharp_cubic',
  'sharp_lanczos3',
] as const;
/**
 * Names accepted from specs written before the OpenCV kernels existed. They keep meaning the
 * libvips kernel they always selected, so a bundle calibrated with them sees the same tensors.
 */
const legacyInterpolations = {
  nearest: 'sharp_nearest',
  bilinear: 'sharp_linear',
  bicubic: 'sharp_cubic',
  lanczos3: 'sharp_lanczos3',
} as const;
export const interpolations = [...cvInterpolations, ...sharpInterpolations] as const;
export type CvInterpolation = (typeof cvInterpolations)[number];
export type SharpInterpolation = (typeof sharpInterpolations)[number];
export type Interpolation = (typeof interpolations)[number];

export function isCvInterpolation(i: Interpolation): i is CvInterpolation {
  return (cvInterpolations as readonly string[]).includes(i);
}

/**
 * Embedded ICC profiles: 'ignore' keeps the stored values (cv2.imread), 'to_srgb' converts them to
 * sRGB (libvips' default). Defaults to 'ignore' with the OpenCV kernels, 'to_srgb' with sharp's.
 */
export const colorProfiles = ['ignore', 'to_srgb'] as const;
export type ColorProfile = (typeof colorProfiles)[number];

export const PreprocessSpecSchema = Type.Object(
  {
    /** Size the image is resized to, [height, width]. */
    resize_dims: Type.Tuple([Dim, Dim]),
    /**
     * The tensor's spatial size, [height, width]; defaults to resize_dims. When smaller, the
     * resized image is centre-cropped to it as tpu-mlir does (ImageNet: resize 256, crop 224).
     */
    input_dims: Type.Optional(Type.Tuple([Dim, Dim])),
    keep_aspect_ratio: Type.Boolean({ default: false }),
    keep_ratio_mode: Type.Union([Type.Literal('letterbox'), Type.Literal('short_side_scale')], {
      default: 'letterbox',
    }),
    /** Pixel value (before mean/scale) of the letterbox border; model_transform takes an int. */
    pad_value: Type.Integer({ minimum: 0, maximum: 255, default: 0 }),
    /** center: image in the middle; normal: image at the top-left, padding right and bottom. */
    pad_type: Type.Union([Type.Literal('center'), Type.Literal('normal')], { default: 'center' }),
    pixel_format: Type.Union([Type.Literal('rgb'), Type.Literal('bgr'), Type.Literal('gray')], {
      default: 'bgr',
    }),
    channel_format: Type.Union([Type.Literal('nchw'), Type.Literal('nhwc')], { default: 'nchw' }),
    /** Per output channel (in pixel_format order) or one value for all channels. */
    mean: Type.Array(Type.Number(), { minItems: 1, maxItems: 3, default: [0] }),
    scale: Type.Array(Type.Number(), { minItems: 1, maxItems: 3, default: [1] }),
    interpolation: Type.Union(
      [...interpolations, ...Object.keys(legacyInterpolations)].map((i) => Type.Literal(i)),
      { default: 'INTER_LINEAR' },
    ),
    color_profile: Type.Optional(Type.Union(colorProfiles.map((p) => Type.Literal(p)))),
    output: Type.Union([Float32Output, QuantizedOutput], { default: { dtype: 'float32' } }),
  },
  { additionalProperties: false },
);

export type PreprocessSpecInput = Static<typeof PreprocessSpecSchema>;
export type PreprocessOutput = PreprocessSpecInput['output'];

/**
 * A validated spec: defaults filled (input_dims, color_profile), interpolation under its current
 * name, mean and scale hold exactly one value per channel.
 */
export type PreprocessSpec = Readonly<
  Omit<PreprocessSpecInput, 'interpolation' | 'input_dims' | 'color_profile'> & {
    interpolation: Interpolation;
    input_dims: [number, number];
    color_profile: ColorProfile;
  }
>;

export function channelCount(spec: Pick<PreprocessSpec, 'pixel_format'>): 1 | 3 {
  return spec.pixel_format === 'gray' ? 1 : 3;
}

function fieldOf(path: string | undefined): string {
  const f = (path ?? '').replace(/^\//, '').replace(/\//g, '.');
  return f === '' ? '(root)' : f;
}

function specError(field: string, reason: string): never {
  throw bmfError('BMF_ERR_PREPROCESS_SPEC', { field, reason });
}

function perChannel(values: readonly number[], channels: number, field: string): number[] {
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) specError(`${field}.${i}`, `expected a finite number, got ${v}`);
  });
  if (values.length === channels) return [...values];
  if (values.length === 1) return new Array<number>(channels).fill(values[0] as number);
  return specError(
    field,
    `expected 1 or ${channels} values for pixel_format with ${channels} channel(s), got ${values.length}`,
  );
}

/**
 * A spec as its author wrote it, with the complete spec it was checked as. A bundle manifest signs
 * `authored` (defaults not filled in, legacy names kept), so the same file packs to the same bytes;
 * everything that computes with the spec reads `spec`.
 */
export interface AuthoredPreprocessSpec {
  readonly authored: Readonly<Record<string, unknown>>;
  readonly spec: PreprocessSpec;
}

/** Parse a spec file's JSON at the edge where it is read (the CLI flag), keeping what was written. */
export function parseAuthoredPreprocessSpec(json: unknown): AuthoredPreprocessSpec {
  const spec = parsePreprocessSpec(json);
  // parsePreprocessSpec has just checked that json is an object matching the schema.
  const authored = Object.freeze(structuredClone(json) as Record<string, unknown>);
  return Object.freeze({ authored, spec });
}

/** Validate untrusted JSON into a complete, frozen PreprocessSpec (BMF_ERR_PREPROCESS_SPEC). */
export function parsePreprocessSpec(json: unknown): PreprocessSpec {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    specError('(root)', 'expected a JSON object');
  }
  const withDefaults = Value.Default(PreprocessSpecSchema, structuredClone(json)) as unknown;
  if (!Value.Check(PreprocessSpecSchema, withDefaults)) {
    const first = Value.Errors(PreprocessSpecSchema, withDefaults).First();
    specError(fieldOf(first?.path), first?.message ?? 'invalid');
  }
  const s = withDefaults;
  const channels = channelCount(s);
  const mean = perChannel(s.mean, channels, 'mean');
  const scale = perChannel(s.scale, channels, 'scale');
  if (s.output.dtype !== 'float32') {
    const [lo, hi] = s.output.dtype === 'int8' ? [-128, 127] : [0, 255];
    if (s.output.zero_point < lo || s.output.zero_point > hi) {
      specError('output.zero_point', `must lie in [${lo}, ${hi}] for ${s.output.dtype}`);
    }
    if (!Number.isFinite(s.output.scale)) specError('output.scale', 'expected a finite number');
  }
  const interpolation: Interpolation =
    s.interpolation in legacyInterpolations
      ? legacyInterpolations[s.interpolation as keyof typeof legacyInterpolations]
      : (s.interpolation as Interpolation);
  const input = s.input_dims ?? s.resize_dims;
  if (input[0] > s.resize_dims[0] || input[1] > s.resize_dims[1]) {
    specError(
      'input_dims',
      `[${input.join(', ')}] must not exceed resize_dims [${s.resize_dims.join(', ')}] (it is a centre crop)`,
    );
  }
  const spec: PreprocessSpec = {
    ...s,
    resize_dims: [s.resize_dims[0], s.resize_dims[1]],
    input_dims: [input[0], input[1]],
    interpolation,
    color_profile: s.color_profile ?? (isCvInterpolation(interpolation) ? 'ignore' : 'to_srgb'),
    mean,
    scale,
    output: { ...s.output },
  };
  Object.freeze(spec.resize_dims);
  Object.freeze(spec.input_dims);
  Object.freeze(spec.mean);
  Object.freeze(spec.scale);
  Object.freeze(spec.output);
  return Object.freeze(spec);
}
