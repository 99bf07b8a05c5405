// Scoring an INT8 candidate the cheap way: mean per-image cosine similarity of its outputs against
// the FP32 outputs on a few held-out inputs. Used by the automatic threshold search and by the
// sensitivity ranking (docs/vendor.md section 1 similarity definitions, shared/stats/similarity.ts).
import { availableParallelism } from 'node:os';
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
 * Host inference in the quantizer (calibration, reference, search, evaluation): one image at a
 * time, each kernel split over every core by onnxruntime's intra-op pool, whose idle threads
 * sleep instead of spin-waiting. With spinning (onnxruntime's default) two threads roughly doubled
 * the CPU a ResNet-50 image took; without it, two threads took ~10 % more CPU than one (175 vs
 * 159 ms per image) and gave bit-identical outputs (`npm run bench -- calibrate`,
 * docs/architecture.md). The threshold search's suffix runs are the exception: too small for the
 * pool to split well, they are split by image over worker threads instead (suffix-shards.ts).
 */
export const HOST_SESSION: OnnxSessionOptions = {
  intraOpNumThreads: availableParallelism(),
  allowSpinning: false,
};

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
