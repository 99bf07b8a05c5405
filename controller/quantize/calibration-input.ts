// Calibration images become tensors through the shared preprocessing, the very code the agent
// runs on requests (agent/serve/request-tensor.ts), so calibration statistics describe exactly
// the inputs the deployed INT8 model receives.
import { readFile } from 'node:fs/promises';
import { bmfError } from '../../shared/errors.js';
import {
  preprocessImage,
  type PreprocessOptions,
  type PreprocessSpec,
} from '../../shared/preprocess/index.js';
import type { Tensor } from '../../shared/tensor.js';

/** One calibration image (a file path or its bytes) -> a batch-1 model input tensor. */
export async function calibrationTensor(
  source: string | Uint8Array,
  spec: PreprocessSpec,
  options?: PreprocessOptions,
): Promise<Tensor> {
  let bytes: Uint8Array;
  if (typeof source === 'string') {
    try {
      bytes = await readFile(source);
    } catch (e) {
      throw bmfError('BMF_ERR_IO', { path: source, reason: (e as Error).message }, { cause: e });
    }
  } else {
    bytes = source;
  }
  return preprocessImage(bytes, spec, options);
}
