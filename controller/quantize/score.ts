// Scoring an INT8 candidate the cheap way: mean per-image cosine similarity of its outputs against
// the FP32 outputs on a few held-out inputs. Used by the automatic threshold search and by the
// sensitivity ranking (docs/vendor.md section 1 similarity definitions, shared/stats/similarity.ts).
import { cosineSimilarity } from '../../shared/stats/similarity.js';
import type { Tensor } from '../../shared/tensor.js';
import {
  createOnnxSession,
  encodeOnnx,
  type OnnxModel,
  type OnnxSessionOptions,
} from '../onnx/index.js';
import type { PreparedModel } from './prepared-model.js';

export type OutputSet = readonly Readonly<Record<string, Tensor>>[];

/**
 * Host inference in the quantizer runs one image at a time on one intra-op thread, as
 * calibration does (calibrate.ts): onnxruntime's default pool spin-waits between kernels, which
 * on ResNet-50 roughly doubled the CPU an image took without changing a value (its INT8 graph's
 * outputs were bit-identical with one thread and with two).
 */
export const HOST_SESSION: OnnxSessionOptions = { intraOpNumThreads: 1 };

export async function runOutputs(
  bytes: Uint8Array,
  inputName: string,
  inputs: readonly Tensor[],
  options: OnnxSessionOptions = HOST_SESSION,
): Promise<Record<string, Tensor>[]> {
  const session = await createOnnxSession(bytes, options);
  try {
    const out = [];
    for (const x of inputs) out.push(await session.run({ [inputName]: x }));
    return out;
  } finally {
    await session.release();
  }
}

/** Mean over images of the mean over outputs of cosine(FP32, candidate). */
export function meanOutputCosine(pm: PreparedModel, reference: OutputSet, test: OutputSet): number {
  let sum = 0;
  for (const [k, ref] of reference.entries()) {
    let s = 0;
    for (const name of pm.outputs) s += cosineSimilarity(ref[name]!, test[k]![name]!);
    sum += s / pm.outputs.length;
  }
  return sum / reference.length;
}

export async function scoreModel(
  pm: PreparedModel,
  model: OnnxModel,
  inputs: readonly Tensor[],
  reference: OutputSet,
): Promise<number> {
  return meanOutputCosine(
    pm,
    reference,
    await runOutputs(encodeOnnx(model), pm.input.name, inputs),
  );
}
