// preprocessImage: the one implementation both the controller (calibration) and the agent
// (runtime requests) call, so an INT8 model is calibrated on exactly the tensors it later sees.
import { makeTensor, type Tensor } from '../tensor.js';
import { bmfError } from '../errors.js';
import {
  checkRawImage,
  decodePixels,
  DEFAULT_MAX_INPUT_PIXELS,
  probeEncoded,
  resizeToPlacement,
  type RawImage,
} from './decode.js';
import { planPlacement, type Placement } from './geometry.js';
import { sniffImageFormat } from './image-format.js';
import { toGrey } from './opencv-grey.js';
import { pngFileGamma } from './png-gamma.js';
import { cvResize, type PixelImage } from './opencv-resize.js';
import { writeTensor } from './layout.js';
import { preprocessJpegNative, preprocessPixelsNative } from './opencv-jpeg.js';
import { channelCount, isCvInterpolation, type PreprocessSpec } from './spec.js';
import { allocateOutput, buildValueTable, type OutputArray } from './value-table.js';

export interface PreprocessOptions {
  /** Refuse inputs with more pixels than this (BMF_ERR_IMAGE_TOO_LARGE). */
  readonly maxInputPixels?: number;
}

export function tensorShape(spec: PreprocessSpec, batch = 1): number[] {
  const [h, w] = spec.input_dims;
  const c = channelCount(spec);
  return spec.channel_format === 'nchw' ? [batch, c, h, w] : [batch, h, w, c];
}

// The value table depends only on the (frozen) spec; cache it per spec object.
const tables = new WeakMap<PreprocessSpec, OutputArray>();
function valueTable(spec: PreprocessSpec): OutputArray {
  let t = tables.get(spec);
  if (!t) {
    t = buildValueTable(spec);
    tables.set(spec, t);
  }
  return t;
}

async function preprocessInto(
  input: Uint8Array | RawImage,
  spec: PreprocessSpec,
  out: OutputArray,
  options: PreprocessOptions,
): Promise<void> {
  const maxPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  if (input instanceof Uint8Array) sniffImageFormat(input);
  else checkRawImage(input, maxPixels);
  const interpolation = spec.interpolation;
  if (isCvInterpolation(interpolation)) {
    if (input instanceof Uint8Array) {
      if (await preprocessJpegNative(input, spec, valueTable(spec), out, maxPixels)) return;
    }
    // Decoded once at full size (as cv2.imread does), so no separate probe is needed.
    const { pixels, place } = await decodeLikeOpenCv(input, spec, maxPixels);
    if (await preprocessPixelsNative(pixels, spec, valueTable(spec), out)) return;
    const data = cvResize(pixels, place.resizeWidth, place.resizeHeight, interpolation);
    const resized = { data, width: place.resizeWidth, channels: pixels.channels as 1 | 3 };
    writeTensor(resized, place, spec, valueTable(spec), out);
    return;
  }
  const probed =
    input instanceof Uint8Array
      ? await probeEncoded(input, maxPixels)
      : { width: input.width, height: input.height, hasAlpha: input.channels % 2 === 0 };
  const place = planPlacement(probed.width, probed.height, spec);
  const pixels = await resizeToPlacement(
    input,
    probed,
    place,
    interpolation,
    spec.color_profile,
    maxPixels,
  );
  writeTensor(pixels, place, spec, valueTable(spec), out);
}

/**
 * cv2.imread: decode at full size, oriented, ICC ignored unless asked; grey first when the model
 * wants grey (IMREAD_GRAYSCALE converts in the decoder, before any resize).
 */
async function decodeLikeOpenCv(
  input: Uint8Array | RawImage,
  spec: PreprocessSpec,
  maxPixels: number,
): Promise<{ pixels: PixelImage; place: Placement }> {
  let pixels = await decodePixels(
    input,
    maxPixels,
    spec.color_profile,
    spec.pixel_format === 'gray',
  );
  if (spec.pixel_format === 'gray' && pixels.channels === 3) {
    const png = input instanceof Uint8Array && sniffImageFormat(input) === 'png';
    pixels = toGrey(
      pixels,
      png ? { kind: 'libpng', gamma: pngFileGamma(input) } : { kind: 'cvtColor' },
    );
  }
  return { pixels, place: planPlacement(pixels.width, pixels.height, spec) };
}

function makeOutputTensor(spec: PreprocessSpec, data: OutputArray, batch: number): Tensor {
  const shape = tensorShape(spec, batch);
  if (data instanceof Float32Array) return makeTensor('float32', shape, data);
  if (data instanceof Int8Array) return makeTensor('int8', shape, data);
  return makeTensor('uint8', shape, data);
}

/**
 * Encoded JPEG/PNG/WebP bytes or raw 8-bit pixels -> a batch-1 tensor, [1,C,H,W] (nchw) or
 * [1,H,W,C] (nhwc), dtype from spec.output. The spec must come from parsePreprocessSpec.
 */
export async function preprocessImage(
  input: Uint8Array | RawImage,
  spec: PreprocessSpec,
  options: PreprocessOptions = {},
): Promise<Tensor> {
  const shape = tensorShape(spec);
  const out = allocateOutput(
    spec.output,
    shape.reduce((a, b) => a * b, 1),
  );
  await preprocessInto(input, spec, out, options);
  return makeOutputTensor(spec, out, 1);
}

export interface PreprocessBatchOptions extends PreprocessOptions {
  /** Images decoded at once (libvips uses its own threads per image as well). Default 2. */
  readonly concurrency?: number;
}

/** Several images -> one [N,...] tensor, each image written straight into its slice. */
export async function preprocessBatch(
  inputs: readonly (Uint8Array | RawImage)[],
  spec: PreprocessSpec,
  options: PreprocessBatchOptions = {},
): Promise<Tensor> {
  if (inputs.length === 0) {
    throw bmfError('BMF_ERR_TENSOR_SHAPE', { reason: 'a batch needs at least one image' });
  }
  const per = tensorShape(spec).reduce((a, b) => a * b, 1);
  const out = allocateOutput(spec.output, per * inputs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < inputs.length) {
      const i = next++;
      await preprocessInto(
        inputs[i] as Uint8Array | RawImage,
        spec,
        out.subarray(i * per, (i + 1) * per),
        options,
      );
    }
  };
  const n = Math.max(1, Math.min(options.concurrency ?? 2, inputs.length));
  await Promise.all(Array.from({ length: n }, worker));
  return makeOutputTensor(spec, out, inputs.length);
}
