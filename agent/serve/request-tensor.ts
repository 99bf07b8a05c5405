// An inference request's image becomes the model input through the shared preprocessing, the
// very code calibration used (controller/quantize/calibration-input.ts).
import {
  preprocessImage,
  type PreprocessOptions,
  type PreprocessSpec,
  type RawImage,
} from '../../shared/preprocess/index.js';
import type { Tensor } from '../../shared/tensor.js';

export function requestTensor(
  image: Uint8Array | RawImage,
  spec: PreprocessSpec,
  options?: PreprocessOptions,
): Promise<Tensor> {
  return preprocessImage(image, spec, options);
}
