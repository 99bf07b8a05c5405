// Scoring threshold candidates by re-running only what changed (suffix.ts): the scorer keeps, per
// scored image, every int8 tensor and graph output of the current INT8 graph, runs a candidate's
// suffix from those values, and adopts the candidate's values when the search keeps it. On
// ResNet-50 a candidate for a late tensor re-runs a few layers instead of fifty.
//
// Suffix runs go to one worker thread per core, each holding the cache of its share of the scored
// images and running one-threaded sessions with spinning off (suffix-shards.ts): a candidate is
// small work, which onnxruntime's intra-op pool split over two cores at a loss (ResNet-50 search:
// 154.5 s CPU with HOST_SESSION's two threads, 137.2 and 135.7 s on two one-threaded workers,
// same table; the `full` and `fused` modes still run on the calling thread).
//
// And with onnxruntime's basic graph optimizations, which keep every QuantizeLinear and
// DequantizeLinear as written: at the default level onnxruntime fuses Q/DQ patterns into integer
// kernels, and which patterns it fuses depends on which tensors are graph outputs, so a graph with
// its int8 tensors exposed (what the cache needs) rounded differently from the same graph without
// (ResNet-50: one output level on some images). At the basic level exposing tensors changes
// nothing, so a suffix run equals a whole run (test/controller/quantize/suffix.test.ts), at about
// 20 % more CPU per image than the fused kernels. Candidates are thus ranked by the explicit
// Q/DQ arithmetic, the one the agent's simulator runs (shared/simulator/graph-level.ts).
import { availableParallelism } from 'node:os';
import { SIMULATOR_GRAPH_LEVEL } from '../../shared/simulator/graph-level.js';
import type { Tensor } from '../../shared/tensor.js';
import {
  createOnnxSession,
  encodeOnnx,
  type OnnxModel,
  type OnnxSessionOptions,
} from '../onnx/index.js';
import { exposeTensors, type PreparedModel } from './prepared-model.js';
import { HOST_SESSION, meanOutputCosine, runOutputs, type OutputSet } from './score.js';
import { changedSuffix, suffixModel } from './suffix.js';
import { startScoringShards } from './suffix-shards.js';

export const SCORING_SESSION: OnnxSessionOptions = {
  ...HOST_SESSION,
  graphOptimizationLevel: SIMULATOR_GRAPH_LEVEL.quantized,
};

/**
 * How candidates are scored: `suffix` (the default) re-runs what changed; `full` runs the whole
 * candidate with the same session options (what `suffix` must equal); `fused` runs the whole
 * candidate with onnxruntime's defaults through scoreModel, as the search did before suffixes
 * (kept as the bench's baseline).
 */
export type ScoringMode = 'suffix' | 'full' | 'fused';

export interface ScoredCandidate {
  readonly cosine: number;
  /** The candidate's graph outputs per scored image. */
  readonly outputs: OutputSet;
  /** The fraction of the graph's nodes this candidate ran (1 for a full run). */
  readonly share: number;
  /** Make this candidate the graph later candidates are compared with. */
  adopt(): Promise<void>;
}

export interface SuffixScorer {
  score(candidate: OnnxModel): Promise<ScoredCandidate>;
  /** Ends the scoring threads (suffix mode). */
  release(): Promise<void>;
}

type Values = Map<string, Tensor>;

function storedTensors(model: OnnxModel): string[] {
  return (model.graph.node ?? [])
    .filter((n) => n.opType === 'QuantizeLinear')
    .flatMap((n) => n.output ?? []);
}

/** Run `model` over per-image feeds, returning every output by name. */
async function runAll(
  model: OnnxModel,
  feeds: readonly Record<string, Tensor>[],
): Promise<Values[]> {
  const session = await createOnnxSession(encodeOnnx(model), SCORING_SESSION);
  try {
    const out: Values[] = [];
    for (const f of feeds) out.push(new Map(Object.entries(await session.run(f))));
    return out;
  } finally {
    await session.release();
  }
}

function outputSet(pm: PreparedModel, values: readonly Values[]): OutputSet {
  return values.map((v) => Object.fromEntries(pm.outputs.map((o) => [o, v.get(o)!])));
}

/** A scorer whose first graph is `base` (the graph the first candidate is compared with). */
export async function createSuffixScorer(
  pm: PreparedModel,
  base: OnnxModel,
  inputs: readonly Tensor[],
  reference: OutputSet,
  mode: ScoringMode = 'suffix',
): Promise<{ scorer: SuffixScorer; startCosine: number }> {
  if (mode !== 'suffix') {
    // The whole graph again for every candidate, on the calling thread: with the scoring
    // session's basic optimizations ('full'), or onnxruntime's default, fused kernels ('fused').
    const feedsOf = inputs.map((x) => ({ [pm.input.name]: x }));
    const outputsOf =
      mode === 'full'
        ? async (m: OnnxModel) => outputSet(pm, await runAll(m, feedsOf))
        : (m: OnnxModel) => runOutputs(encodeOnnx(m), pm.input.name, inputs, {});
    const full: SuffixScorer = {
      async score(candidate) {
        const outputs = await outputsOf(candidate);
        return {
          cosine: meanOutputCosine(pm, reference, outputs),
          outputs,
          share: 1,
          adopt: async () => undefined,
        };
      },
      release: async () => undefined,
    };
    return {
      scorer: full,
      startCosine: meanOutputCosine(pm, reference, await outputsOf(base)),
    };
  }
  let current = base;
  const shards = startScoringShards(pm.outputs, inputs.length, availableParallelism());
  try {
    const start = await shards.init(
      encodeOnnx(exposeTensors(base, storedTensors(base))),
      pm.input.name,
      inputs,
    );
    const startCosine = meanOutputCosine(pm, reference, start.outputs);
    const total = (base.graph.node ?? []).length;
    const scorer: SuffixScorer = {
      async score(candidate) {
        const suffix = changedSuffix(current, candidate);
        const extra = [...suffix.stored, ...pm.outputs];
        const bytes =
          suffix.nodes.length > 0
            ? encodeOnnx(suffixModel(candidate, suffix, start.meta, extra))
            : null;
        // Values the suffix did not recompute are the current graph's (kept by the threads).
        const outputs = await shards.score(bytes, suffix.boundary);
        return {
          cosine: meanOutputCosine(pm, reference, outputs),
          outputs,
          share: suffix.nodes.length / Math.max(1, total),
          adopt: async () => {
            await shards.adopt();
            current = candidate;
          },
        };
      },
      release: () => shards.release(),
    };
    return { scorer, startCosine };
  } catch (e) {
    await shards.release();
    throw e;
  }
}
