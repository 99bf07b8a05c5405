// Validation as the vendor tools do it (model_deploy --test_reference): run the reference and the
// compiled artefact on the same inputs and compare every output with cosine, euclidean similarity
// and SQNR. The worst value over the inputs is what is reported and judged.
import { compareTensors } from '../../shared/stats/similarity.js';
import type { SimilarityTolerance } from '../../shared/stats/similarity.js';
import { createOnnxSession } from '../onnx/index.js';
import type { OnnxSessionOptions } from '../onnx/index.js';
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

export async function compareModels(
  reference: Uint8Array,
  compiled: Uint8Array,
  feeds: readonly Feeds[],
  tolerance: SimilarityTolerance,
  options: OnnxSessionOptions = {},
): Promise<ValidationResult> {
  const ref = await createOnnxSession(reference, options);
  const test = await createOnnxSession(compiled, options);
  const worst = new Map<string, { cosine: number; euclidean: number; sqnr: number }>();
  try {
    for (const feed of feeds) {
      const a = await ref.run(feed);
      const b = await test.run(feed);
      for (const name of ref.outputNames) {
        const ra = a[name];
        const rb = b[name];
        const c = ra && rb ? compareTensors(ra, rb, tolerance) : undefined;
        const w = worst.get(name) ?? { cosine: Infinity, euclidean: Infinity, sqnr: Infinity };
        worst.set(name, {
          cosine: Math.min(w.cosine, c?.cosine ?? -Infinity),
          euclidean: Math.min(w.euclidean, c?.euclidean ?? -Infinity),
          sqnr: Math.min(w.sqnr, c?.sqnrDb ?? -Infinity),
        });
      }
    }
  } finally {
    await ref.release();
    await test.release();
  }
  const outputs = [...worst].map(([name, w]) => ({
    name,
    cosine: w.cosine,
    euclidean: w.euclidean,
    sqnrDb: w.sqnr === Infinity ? ('inf' as const) : w.sqnr,
    pass: w.cosine >= tolerance.cosine && w.euclidean >= tolerance.euclidean,
  }));
  return { samples: feeds.length, tolerance, outputs, pass: outputs.every((o) => o.pass) };
}
