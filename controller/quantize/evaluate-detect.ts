// Evaluation of an INT8 detector against its FP32 reference on images with ground-truth boxes:
// COCO mAP@[0.5:0.95] and mAP@0.5 of each, per class, through the decoder the bundle will declare
// (shared/detect detectionMap, the arithmetic the agent's gate and answers use).
import {
  detectionMap,
  type DetectionSample,
  type DetectorSpec,
  type MapResult,
} from '../../shared/detect/index.js';
import { sourceMapping } from '../../shared/preprocess/geometry.js';
import type { PreprocessSpec } from '../../shared/preprocess/index.js';
import type { Tensor } from '../../shared/tensor.js';
import { encodeOnnx } from '../onnx/index.js';
import type { BoxItem } from './box-dataset.js';
import type { Progress } from './calibrate.js';
import type { PreparedModel } from './prepared-model.js';
import type { Int8Graph } from './qdq.js';
import { runOutputs } from './score.js';

export interface DetectionInput {
  readonly tensor: Tensor;
  readonly item: BoxItem;
}

export interface ClassMap {
  readonly classId: number;
  readonly name: string;
  readonly groundTruths: number;
  readonly apFp32: number;
  readonly apInt8: number;
  readonly ap50Fp32: number;
  readonly ap50Int8: number;
}

export interface DetectionReport {
  readonly images: number;
  readonly boxes: number;
  /** COCO mAP@[0.5:0.95] (AP50-95) and mAP@0.5 (AP50). */
  readonly mapFp32: number;
  readonly mapInt8: number;
  readonly map50Fp32: number;
  readonly map50Int8: number;
  readonly perClass: readonly ClassMap[];
}

export type DetectionOutputs = readonly Readonly<Record<string, Tensor>>[];

/** Every output of the FP32 model per input (shared by several INT8 candidates). */
export function fp32DetectionOutputs(
  pm: PreparedModel,
  inputs: readonly DetectionInput[],
): Promise<Record<string, Tensor>[]> {
  return runOutputs(
    pm.bytes,
    pm.input.name,
    inputs.map((x) => x.tensor),
  );
}

function mapOf(
  decoder: DetectorSpec,
  spec: PreprocessSpec,
  inputs: readonly DetectionInput[],
  outputs: DetectionOutputs,
): MapResult {
  const samples: DetectionSample[] = inputs.map((x, i) => ({
    outputs: outputs[i] ?? {},
    mapping: sourceMapping(x.item.image.width, x.item.image.height, spec),
    truth: x.item.image.boxes,
  }));
  return detectionMap(decoder, samples, {
    inputHeight: spec.resize_dims[0],
    inputWidth: spec.resize_dims[1],
  });
}

export async function evaluateDetection(
  pm: PreparedModel,
  int8: Int8Graph,
  inputs: readonly DetectionInput[],
  decoder: DetectorSpec,
  spec: PreprocessSpec,
  options: {
    readonly reference?: DetectionOutputs;
    readonly classNames?: readonly string[];
    readonly onProgress?: (p: Progress) => void;
  } = {},
): Promise<DetectionReport> {
  const reference = options.reference ?? (await fp32DetectionOutputs(pm, inputs));
  const test = await runOutputs(
    encodeOnnx(int8.model),
    pm.input.name,
    inputs.map((x) => x.tensor),
  );
  options.onProgress?.({ stage: 'evaluate', done: inputs.length, total: inputs.length });
  const f = mapOf(decoder, spec, inputs, reference);
  const q = mapOf(decoder, spec, inputs, test);
  const names = options.classNames ?? [];
  return {
    images: inputs.length,
    boxes: inputs.reduce((n, x) => n + x.item.image.boxes.length, 0),
    mapFp32: f.map,
    mapInt8: q.map,
    map50Fp32: f.map50,
    map50Int8: q.map50,
    perClass: f.perClass.map((c, i) => {
      const d = q.perClass[i];
      return {
        classId: c.categoryId,
        name: names[c.categoryId] ?? '',
        groundTruths: c.groundTruths,
        apFp32: c.ap,
        apInt8: d?.ap ?? -1,
        ap50Fp32: c.ap50,
        ap50Int8: d?.ap50 ?? -1,
      };
    }),
  };
}
