// An inference request's image becomes the model input through the shared preprocessing, the
// very code calibration used (controller/quantize/calibration-input.ts).
import {
  preprocessImage,
  type PreprocessOptions,
  type PreprocessSpec,
  type RawImage,
} from '../../shared/preprocess/index.js';
import { probeEncoded } from '../../shared/preprocess/decode.js';
import { DEFAULT_MAX_INPUT_PIXELS } from '../../shared/preprocess/index.js';
import type { Tensor } from '../../shared/tensor.js';

/** Width and height of an encoded image as preprocessing sees it (after EXIF orientation). */
export async function encodedImageSize(
  bytes: Uint8Array,
): Promise<{ width: number; height: number }> {
  const { width, height } = await probeEncoded(bytes, DEFAULT_MAX_INPUT_PIXELS);
  return { width, height };
}

export function requestTensor(
  image: Uint8Array | RawImage,
  spec: PreprocessSpec,
  options?: PreprocessOptions,
): Promise<Tensor> {
  return preprocessImage(image, spec, options);
}
