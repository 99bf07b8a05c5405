// The activation gate: the candidate model runs the bundle's golden set and must meet its
// accuracy and output-similarity thresholds before it may serve. Scoring is pure; running the
// golden set is the thin part that calls the runtime.
import { bmfError } from '../../shared/errors.js';
import type { Tensor } from '../../shared/tensor.js';
import type { ModelHandle, RuntimeBackend } from '../runtime/types.js';
import { argmax, outputCosine } from './postprocess.js';
import type { GateThresholds, GoldenSet } from './types.js';

export interface GateReport {
  readonly passed: boolean;
  readonly samples: number;
  /** Samples whose top-1 matched the label, or undefined when the golden set has no labels. */
  readonly correct: number | undefined;
  /** Top-1 accuracy (correct / samples), or undefined when the golden set has no labels. */
  readonly accuracy: number | undefined;
  /** Mean cosine similarity of all outputs, or undefined without reference outputs. */
  readonly cosine: number | undefined;
  readonly reasons: readonly string[];
}

type Outputs = Readonly<Record<string, Tensor>>;

function firstOutput(o: Outputs): Tensor {
  const t = Object.values(o)[0];
  if (!t) throw bmfError('BMF_ERR_RUNTIME_INFER', { reason: 'model produced no outputs' });
  return t;
}

/** Pure: score golden-set outputs against labels and references. */
export function scoreGate(
  golden: GoldenSet,
  outputs: readonly Outputs[],
  t: GateThresholds,
): GateReport {
  const reasons: string[] = [];
  let correct: number | undefined;
  let accuracy: number | undefined;
  let cosine: number | undefined;
  if (golden.labels && golden.labels.length > 0) {
    const labels = golden.labels;
    correct = outputs.filter((o, i) => argmax(firstOutput(o).data) === labels[i]).length;
    accuracy = correct / outputs.length;
    if (accuracy < t.minAccuracy) {
      reasons.push(`golden accuracy ${accuracy.toFixed(4)} below ${t.minAccuracy}`);
    }
  }
  if (golden.referenceOutputs && golden.referenceOutputs.length > 0) {
    const refs = golden.referenceOutputs;
    let sum = 0;
    let n = 0;
    outputs.forEach((o, i) => {
      for (const [name, ref] of Object.entries(refs[i] ?? {})) {
        const got = o[name];
        sum += got ? outputCosine(got, ref) : 0;
        n += 1;
      }
    });
    cosine = n > 0 ? sum / n : 0;
    if (cosine < t.minCosine) {
      reasons.push(`output cosine ${cosine.toFixed(6)} below ${t.minCosine}`);
    }
  }
  return {
    passed: reasons.length === 0,
    samples: outputs.length,
    correct,
    accuracy,
    cosine,
    reasons,
  };
}

/** Runs the golden set on a loaded candidate and scores it. */
export async function runGate(
  backend: RuntimeBackend,
  handle: ModelHandle,
  golden: GoldenSet,
  thresholds: GateThresholds,
  signal?: AbortSignal,
): Promise<GateReport> {
  const outputs: Outputs[] = [];
  for (const feeds of golden.inputs) {
    outputs.push((await backend.infer(handle, feeds, signal)).outputs);
  }
  return scoreGate(golden, outputs, thresholds);
}
