// Validation as the vendor tools do it (model_deploy --test_reference): run the reference and the
// compiled artefact on the same inputs and compare every output with cosine, euclidean similarity
// and SQNR. The worst value over the inputs is what is reported and judged.
import { compareTensors } from '../../shared/stats/similarity.js';
import type { SimilarityTolerance } from '../../shared/stats/similarity.js';
import { createOnnxSession } from '../onnx/index.js';
import type { OnnxSessionOptions } from '../onnx/index.js';
import type { Tensor } from '../../shared/tensor.js';
import type { Feeds } from './test-inputs.js';

export interface OutputSimilarity {
  readonly name: string;
  readonly cosine: number;
  readonly euclidean: number;
  /** 'inf' when the outputs are identical (no noise at all). */
  readonly sqnrDb: number | 'inf';
  readonly pass: boolean;
}

export interface ValidationResult {
  readonly samples: number;
  readonly tolerance: SimilarityTolerance;
  readonly outputs: readonly OutputSimilarity[];
  readonly pass: boolean;
}

type Worst = Map<string, { cosine: number; euclidean: number; sqnr: number }>;

function record(
  worst: Worst,
  name: string,
  a: Tensor | undefined,
  b: Tensor | undefined,
  tolerance: SimilarityTolerance,
): void {
  const c = a && b ? compareTensors(a, b, tolerance) : undefined;
  const w = worst.get(name) ?? { cosine: Infinity, euclidean: Infinity, sqnr: Infinity };
  worst.set(name, {
    cosine: Math.min(w.cosine, c?.cosine ?? -Infinity),
    euclidean: Math.min(w.euclidean, c?.euclidean ?? -Infinity),
    sqnr: Math.min(w.sqnr, c?.sqnrDb ?? -Infinity),
  });
}

function judge(worst: Worst, samples: number, tolerance: SimilarityTolerance): ValidationResult {
  const outputs = [...worst].map(([name, w]) => ({
    name,
    cosine: w.cosine,
    euclidean: w.euclidean,
    sqnrDb: w.sqnr === Infinity ? ('inf' as const) : w.sqnr,
    pass: w.cosine >= tolerance.cosine && w.euclidean >= tolerance.euclidean,
  }));
  return { samples, tolerance, outputs, pass: outputs.every((o) => o.pass) };
}

export async function compareModels(
  reference: Uint8Array,
  compiled: Uint8Array,
  feeds: readonly Feeds[],
  tolerance: SimilarityTolerance,
  options: OnnxSessionOptions = {},
): Promise<ValidationResult> {
  const ref = await createOnnxSession(reference, options);
  const test = await createOnnxSession(compiled, options);
  const worst: Worst = new Map();
  try {
    for (const feed of feeds) {
      const a = await ref.run(feed);
      const b = await test.run(feed);
      for (const name of ref.outputNames) record(worst, name, a[name], b[name], tolerance);
    }
  } finally {
    await ref.release();
    await test.release();
  }
  return judge(worst, feeds.length, tolerance);
}

/**
 * The compiled model against outputs recorded elsewhere (a TorchScript model run by PyTorch):
 * `references[i]` holds the reference outputs for `feeds[i]`, by output name.
 */
export async function compareWithReferences(
  compiled: Uint8Array,
  feeds: readonly Feeds[],
  references: readonly Readonly<Record<string, Tensor>>[],
  tolerance: SimilarityTolerance,
  options: OnnxSessionOptions = {},
): Promise<ValidationResult> {
  const test = await createOnnxSession(compiled, options);
  const worst: Worst = new Map();
  try {
    for (const [i, feed] of feeds.entries()) {
      const b = await test.run(feed);
      const ref = references[i] ?? {};
      for (const name of test.outputNames) record(worst, name, ref[name], b[name], tolerance);
    }
  } finally {
    await test.release();
  }
  return judge(worst, feeds.length, tolerance);
}
