// Output decoding: top-k with softmax scores and label names for classifiers, boxes through the
// shared detection decoders for detectors, and the comparison figures kept for shadow runs and
// the gate.
import { cosineSimilarity } from '../../shared/stats/similarity.js';
import { decodeDetections } from '../../shared/detect/decode.js';
import type { DetectorSpec } from '../../shared/detect/spec.js';
import { sourceMapping, tensorMapping } from '../../shared/preprocess/geometry.js';
import type { PreprocessSpec } from '../../shared/preprocess/spec.js';
import type { Tensor } from '../../shared/tensor.js';
import type { ModelDescription, TensorDescription } from '../runtime/types.js';

type Numeric = Tensor['data'];

function at(data: Numeric, i: number): number {
  return Number(data[i]);
}

export function argmax(data: Numeric): number {
  let best = 0;
  for (let i = 1; i < data.length; i++) if (at(data, i) > at(data, best)) best = i;
  return best;
}

/** Cosine of two outputs (shared/stats, the vendor tools' definition); 0 when they cannot be compared. */
export function outputCosine(a: Tensor, b: Tensor): number {
  try {
    return cosineSimilarity(a, b);
  } catch {
    return 0;
  }
}

export interface TopKEntry {
  readonly index: number;
  readonly label: string | undefined;
  readonly score: number;
}

/**
 * Softmax over the first output's values, highest k first. One pass for the normaliser and one
 * insertion into a k-long list: no per-class objects or full sort (1000 classes cost ~10 us).
 * Ties keep the lower index first, as a stable sort would.
 */
export function topK(data: Numeric, k: number, labels?: readonly string[]): TopKEntry[] {
  const n = data.length;
  const want = Math.min(Math.max(0, k), n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = at(data, i);
    if (v > max) max = v;
  }
  let sum = 0;
  const best: number[] = []; // indices, highest value first
  for (let i = 0; i < n; i++) {
    const v = at(data, i);
    sum += Math.exp(v - max);
    if (want === 0) continue;
    if (best.length === want && v <= at(data, best[want - 1] as number)) continue;
    let j = best.length < want ? best.length : want - 1;
    while (j > 0 && at(data, best[j - 1] as number) < v) j--;
    best.splice(j, 0, i);
    if (best.length > want) best.pop();
  }
  return best.map((index) => ({
    index,
    label: labels?.[index],
    score: Math.exp(at(data, index) - max) / sum,
  }));
}

/** One detected box as the local API answers it (source-image pixels). */
export interface DetectionAnswer {
  readonly box: readonly [number, number, number, number];
  readonly score: number;
  readonly classId: number;
  readonly label: string | undefined;
  readonly landmarks?: readonly number[];
}

/** Model input size [height, width] the decoder's priors and strides refer to. */
export function detectorInputSize(
  preprocess: PreprocessSpec | undefined,
  input: TensorDescription | undefined,
): [number, number] {
  if (preprocess !== undefined) {
    const [h, w] = preprocess.resize_dims;
    return [h, w];
  }
  const s = input?.shape ?? [];
  // Without a preprocessing spec the input is taken as NCHW.
  return [s[2] ?? 0, s[3] ?? 0];
}

/**
 * Outputs of one request -> boxes in source pixels (the shared decoder, the same arithmetic the
 * controller's golden mAP uses). `source` is the request image's size; absent for tensor
 * requests, whose boxes stay in tensor pixels.
 */
export function decodeBoxes(
  decoder: DetectorSpec,
  outputs: Readonly<Record<string, Tensor>>,
  model: { readonly preprocess?: PreprocessSpec; readonly labels?: readonly string[] },
  description: ModelDescription,
  source: { readonly width: number; readonly height: number } | undefined,
): DetectionAnswer[] {
  const [h, w] = detectorInputSize(model.preprocess, description.inputs[0]);
  const mapping =
    source && model.preprocess !== undefined
      ? sourceMapping(source.width, source.height, model.preprocess)
      : tensorMapping(w, h);
  const quantization: Record<string, { scale: number; zeroPoint: number }> = {};
  for (const o of description.outputs) {
    quantization[o.name] = { scale: o.scale, zeroPoint: o.zeroPoint };
  }
  const dets =
    decodeDetections(decoder, outputs, {
      inputHeight: h,
      inputWidth: w,
      mappings: [mapping],
      quantization,
    })[0] ?? [];
  return dets.map((d) => ({
    box: d.box,
    score: d.score,
    classId: d.classId,
    label: model.labels?.[d.classId],
    ...(d.landmarks ? { landmarks: d.landmarks } : {}),
  }));
}
