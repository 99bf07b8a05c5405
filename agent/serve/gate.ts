// The activation gate: the candidate model runs the bundle's golden set and must meet its
// accuracy and output-similarity thresholds before it may serve. Scoring is pure; running the
// golden set is the thin part that calls the runtime.
import { detectionMap } from '../../shared/detect/evaluate.js';
import { bmfError } from '../../shared/errors.js';
import { sourceMapping, tensorMapping } from '../../shared/preprocess/geometry.js';
import type { Tensor } from '../../shared/tensor.js';
import type { ModelDescription, ModelHandle, RuntimeBackend } from '../runtime/types.js';
import { argmax, detectorInputSize, outputCosine } from './postprocess.js';
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
  /** Detectors: COCO mAP@[0.5:0.95] on the golden boxes, or undefined without boxes. */
  readonly map: number | undefined;
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
  description?: ModelDescription,
): GateReport {
  const reasons: string[] = [];
  let correct: number | undefined;
  let accuracy: number | undefined;
  let cosine: number | undefined;
  let map: number | undefined;
  if (t.map && golden.boxes && golden.boxes.length > 0) {
    map = goldenMap(golden, outputs, t.map, description);
    if (map < t.map.min) {
      reasons.push(`golden mAP ${map.toFixed(4)} below ${t.map.min}`);
    }
  } else if (golden.labels && golden.labels.length > 0) {
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
    map,
    reasons,
  };
}

/** mAP@[0.5:0.95] of the golden outputs through the bundle's decoder (shared/detect). */
function goldenMap(
  golden: GoldenSet,
  outputs: readonly Outputs[],
  m: NonNullable<GateThresholds['map']>,
  description: ModelDescription | undefined,
): number {
  const [h, w] = detectorInputSize(m.preprocess, description?.inputs[0]);
  const geometry = m.preprocess;
  const quantization: Record<string, { scale: number; zeroPoint: number }> = {};
  for (const o of description?.outputs ?? []) {
    quantization[o.name] = { scale: o.scale, zeroPoint: o.zeroPoint };
  }
  const boxes = golden.boxes ?? [];
  const result = detectionMap(
    m.decoder,
    outputs.map((o, i) => {
      const img = boxes[i] ?? { width: w, height: h, boxes: [] };
      return {
        outputs: o,
        mapping: geometry ? sourceMapping(img.width, img.height, geometry) : tensorMapping(w, h),
        truth: img.boxes,
      };
    }),
    { inputHeight: h, inputWidth: w, quantization },
  );
  // No ground truth at all reads as -1 (pycocotools); that is no evidence of a working model.
  return Math.max(0, result.map);
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
  return scoreGate(
    golden,
    outputs,
    thresholds,
    thresholds.map ? backend.describe(handle) : undefined,
  );
}
