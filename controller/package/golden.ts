// The golden set a bundle carries: a few labelled images preprocessed exactly as the device will
// preprocess them (shared/preprocess), and the outputs this very BMODEL produced for them on the
// host. The agent's activation gate replays them (agent/serve/golden-file.ts reads this format).
import { readFile } from 'node:fs/promises';
import {
  detectionMap,
  type DetectionSample,
  type DetectorSpec,
  type LabelledImage,
  type MapResult,
} from '../../shared/detect/index.js';
import { sourceMapping } from '../../shared/preprocess/geometry.js';
import type { PreprocessSpec } from '../../shared/preprocess/index.js';
import { preprocessImage } from '../../shared/preprocess/index.js';
import type { Tensor } from '../../shared/tensor.js';
import { tensorBytes } from '../../shared/tensor.js';

export interface GoldenImage {
  readonly path: string;
  readonly label?: number;
  /** Detectors: the image's size and ground-truth boxes in its pixels. */
  readonly boxes?: LabelledImage;
  /**
   * Vendor BMODELs: what the device produced for this image (golden-reference.ts), used as the
   * reference outputs when the host cannot run the model itself.
   */
  readonly recordedOutputs?: Readonly<Record<string, Tensor>>;
}

interface TensorJson {
  dtype: string;
  shape: number[];
  data: string;
}

export interface GoldenSetJson {
  inputs: Record<string, TensorJson>[];
  labels?: number[];
  referenceOutputs?: Record<string, TensorJson>[];
  boxes?: { width: number; height: number; boxes: number[][] }[];
}

export interface GoldenSummary {
  readonly count: number;
  /** The golden set carries reference outputs (from this model on the host, or recorded). */
  readonly hasReferenceOutputs: boolean;
  /** Top-1 accuracy of this model on the golden images, when they are labelled. */
  readonly accuracy: number | undefined;
  /** Detectors with boxed golden images: COCO mAP of this model, and of the reference model. */
  readonly map?: MapResult;
  readonly referenceMap?: MapResult;
}

export interface GoldenDetection {
  readonly decoder: DetectorSpec;
  /** The FP32 model the bundle was quantized from, run on the same inputs (FP32 vs INT8 mAP). */
  readonly reference?: Run;
}

type Run = (feeds: Record<string, Tensor>) => Promise<Record<string, Tensor>>;

const toJson = (t: Tensor): TensorJson => ({
  dtype: t.dtype,
  shape: [...t.shape],
  data: Buffer.from(tensorBytes(t)).toString('base64'),
});

function argmax(data: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < data.length; i++) if ((data[i] as number) > (data[best] as number)) best = i;
  return best;
}

/** Build the golden set; `run` executes the model the bundle ships (undefined for vendor BMODELs). */
export async function buildGoldenSet(
  images: readonly GoldenImage[],
  inputName: string,
  spec: PreprocessSpec,
  run: Run | undefined,
  detection?: GoldenDetection,
): Promise<{ json: GoldenSetJson; summary: GoldenSummary }> {
  const inputs: Record<string, TensorJson>[] = [];
  const referenceOutputs: Record<string, TensorJson>[] = [];
  const labels: number[] = [];
  const samples: DetectionSample[] = [];
  const referenceSamples: DetectionSample[] = [];
  const boxed = detection !== undefined && images.length > 0 && images.every((i) => i.boxes);
  let correct = 0;
  for (const img of images) {
    const tensor = await preprocessImage(await readFile(img.path), spec);
    inputs.push({ [inputName]: toJson(tensor) });
    if (img.label !== undefined) labels.push(img.label);
    const box = boxed ? (img.boxes as LabelledImage) : undefined;
    const mapping = box && sourceMapping(box.width, box.height, spec);
    if (box && mapping && detection?.reference) {
      const outputs = await detection.reference({ [inputName]: tensor });
      referenceSamples.push({ outputs, mapping, truth: box.boxes });
    }
    if (run) {
      const outputs = await run({ [inputName]: tensor });
      if (box && mapping) samples.push({ outputs, mapping, truth: box.boxes });
      referenceOutputs.push(
        Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, toJson(v)])),
      );
      const first = Object.values(outputs)[0];
      if (
        first &&
        img.label !== undefined &&
        argmax(first.data as ArrayLike<number>) === img.label
      ) {
        correct += 1;
      }
    } else if (img.recordedOutputs) {
      referenceOutputs.push(
        Object.fromEntries(Object.entries(img.recordedOutputs).map(([k, v]) => [k, toJson(v)])),
      );
    }
  }
  const labelled = labels.length === images.length && images.length > 0 && !boxed;
  const ctx = { inputHeight: spec.resize_dims[0], inputWidth: spec.resize_dims[1] };
  const mapOf = (xs: readonly DetectionSample[]) =>
    detection && xs.length > 0 ? detectionMap(detection.decoder, xs, ctx) : undefined;
  const map = mapOf(samples);
  const referenceMap = mapOf(referenceSamples);
  return {
    json: {
      inputs,
      ...(labelled ? { labels } : {}),
      ...(run || (images.length > 0 && images.every((i) => i.recordedOutputs))
        ? { referenceOutputs }
        : {}),
      ...(boxed
        ? {
            boxes: images.map((i) => ({
              width: (i.boxes as LabelledImage).width,
              height: (i.boxes as LabelledImage).height,
              boxes: (i.boxes as LabelledImage).boxes.map((b) => [b.classId, ...b.box]),
            })),
          }
        : {}),
    },
    summary: {
      count: images.length,
      hasReferenceOutputs: referenceOutputs.length === images.length && images.length > 0,
      accuracy: run && labelled ? correct / images.length : undefined,
      ...(map ? { map } : {}),
      ...(referenceMap ? { referenceMap } : {}),
    },
  };
}
