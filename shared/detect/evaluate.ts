// mAP of a detector over labelled images, from its raw outputs: the bundle's decoder turns each
// image's outputs into boxes in source pixels (decode.ts, the code the agent answers with) and
// computeMap scores them as pycocotools does (map.ts). The controller's quantize report and
// golden check and the agent's activation gate all call this, so their figures agree.
import type { SourceMapping } from '../preprocess/geometry.js';
import type { Tensor } from '../tensor.js';
import { decodeDetections } from './decode.js';
import type { LabelledBox } from './labels.js';
import {
  computeMap,
  toCocoBox,
  type DetectedBox,
  type GroundTruthBox,
  type MapResult,
} from './map.js';
import type { OutputQuantization } from './outputs.js';
import type { DetectorSpec } from './spec.js';

export interface DetectionSample {
  readonly outputs: Readonly<Record<string, Tensor>>;
  /** The way from tensor pixels back to this image (shared/preprocess sourceMapping). */
  readonly mapping: SourceMapping;
  readonly truth: readonly LabelledBox[];
}

export interface DetectionEvalContext {
  readonly inputHeight: number;
  readonly inputWidth: number;
  readonly quantization?: Readonly<Record<string, OutputQuantization>>;
}

/** COCO mAP (AP50-95, AP50, AP75, per class) of a decoder's answers over labelled samples. */
export function detectionMap(
  spec: DetectorSpec,
  samples: readonly DetectionSample[],
  ctx: DetectionEvalContext,
): MapResult {
  const gt: GroundTruthBox[] = [];
  const dt: DetectedBox[] = [];
  samples.forEach((s, imageId) => {
    for (const t of s.truth) {
      gt.push({ imageId, categoryId: t.classId, bbox: toCocoBox(...t.box) });
    }
    const dets =
      decodeDetections(spec, s.outputs, {
        inputHeight: ctx.inputHeight,
        inputWidth: ctx.inputWidth,
        mappings: [s.mapping],
        ...(ctx.quantization ? { quantization: ctx.quantization } : {}),
      })[0] ?? [];
    for (const d of dets) {
      dt.push({ imageId, categoryId: d.classId, bbox: toCocoBox(...d.box), score: d.score });
    }
  });
  return computeMap(gt, dt);
}
