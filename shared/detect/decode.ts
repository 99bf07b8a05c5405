// One entry for every detector: model outputs -> detections in source-image pixels, per batch
// item. The controller (golden mAP) and the agent (/v1/infer) both call decodeDetections, so a
// bundle's answers on the board and in its gate come from the same arithmetic.
import { bmfError } from '../errors.js';
import { tensorMapping, type SourceMapping } from '../preprocess/geometry.js';
import { makeTensor, shapeSize, type Tensor } from '../tensor.js';
import { nms, toDetections, type Candidates, type Detection } from './candidates.js';
import { viewOutput, type OutputQuantization, type OutputView } from './outputs.js';
import { decodeRetinafaceAnchors, decodeRetinafacePriors } from './retinaface.js';
import type { DecoderSpec, DetectorSpec } from './spec.js';
import { decodeYolov5Flat, decodeYolov5Heads, decodeYolov8 } from './yolo.js';

export interface DecodeContext {
  /** Model input (tensor) size, [height, width]: what prior boxes and strides refer to. */
  readonly inputHeight: number;
  readonly inputWidth: number;
  /** Per batch item, the way back to its source image (shared/preprocess sourceMapping). */
  readonly mappings: readonly SourceMapping[];
  /** Scale and zero point per output name, for INT8/UINT8 outputs (the BMODEL's). */
  readonly quantization?: Readonly<Record<string, OutputQuantization>>;
}

type Outputs = Readonly<Record<string, Tensor>>;

function decodeItem(
  spec: DetectorSpec,
  outputs: Outputs,
  ctx: DecodeContext,
  item: number,
): Candidates {
  const view = (name: string): OutputView =>
    viewOutput(spec.kind, name, outputs[name], ctx.quantization?.[name]);
  switch (spec.kind) {
    case 'yolov5':
      return spec.outputs.length === 1
        ? decodeYolov5Flat(spec, view(spec.outputs[0] as string), item)
        : decodeYolov5Heads(spec, spec.outputs.map(view), [ctx.inputHeight, ctx.inputWidth], item);
    case 'yolov8':
      return decodeYolov8(spec, view(spec.output), item);
    case 'retinaface':
      if (spec.layout === 'priors') {
        const lm = spec.outputs.landmarks;
        return decodeRetinafacePriors(
          spec,
          view(spec.outputs.loc),
          view(spec.outputs.conf),
          lm === undefined ? undefined : view(lm),
          ctx.inputHeight,
          ctx.inputWidth,
          item,
        );
      }
      return decodeRetinafaceAnchors(
        spec,
        spec.heads.map((h) => ({
          stride: h.stride,
          scales: h.scales,
          cls: view(h.cls),
          bbox: view(h.bbox),
          landmark: h.landmark === undefined ? undefined : view(h.landmark),
        })),
        [ctx.inputHeight, ctx.inputWidth],
        item,
      );
  }
}

/** The output names a decoder reads. */
export function decoderOutputNames(spec: DetectorSpec): string[] {
  switch (spec.kind) {
    case 'yolov5':
      return [...spec.outputs];
    case 'yolov8':
      return [spec.output];
    case 'retinaface':
      if (spec.layout === 'priors') {
        const o = spec.outputs;
        return [o.loc, o.conf, ...(o.landmarks === undefined ? [] : [o.landmarks])];
      }
      return spec.heads.flatMap((h) => [
        h.cls,
        h.bbox,
        ...(h.landmark === undefined ? [] : [h.landmark]),
      ]);
  }
}

function batchOf(spec: DetectorSpec, outputs: Outputs): number {
  const first = outputs[decoderOutputNames(spec)[0] as string];
  if (!first) {
    throw bmfError('BMF_ERR_DECODER_OUTPUTS', {
      decoder: spec.kind,
      reason: `no output ${decoderOutputNames(spec)[0]}`,
    });
  }
  return first.shape[0] ?? 0;
}

/** Detections per batch item (highest score first), in source pixels. */
export function decodeDetections(
  spec: DetectorSpec,
  outputs: Outputs,
  ctx: DecodeContext,
): Detection[][] {
  const batch = batchOf(spec, outputs);
  if (ctx.mappings.length < 1 || (ctx.mappings.length !== batch && ctx.mappings.length !== 1)) {
    throw bmfError('BMF_ERR_DECODER_OUTPUTS', {
      decoder: spec.kind,
      reason: `${ctx.mappings.length} source mappings for a batch of ${batch}`,
    });
  }
  const result: Detection[][] = [];
  for (let item = 0; item < batch; item++) {
    const c = decodeItem(spec, outputs, ctx, item);
    const keep = nms(c, {
      iouThreshold: spec.iou_threshold,
      maxDetections: spec.max_detections,
      classAgnostic: spec.class_agnostic,
    });
    result.push(toDetections(c, keep, (ctx.mappings[item] ?? ctx.mappings[0]) as SourceMapping));
  }
  return result;
}

export interface OutputShape {
  readonly name: string;
  readonly shape: readonly number[];
}

/** Largest output the packaging check will materialise (elements). */
const MAX_CHECK_ELEMENTS = 1 << 26;

/**
 * Does this decoder fit a model with these outputs and this input size? Runs the decoder itself
 * on zero-valued outputs of the declared shapes, so the check and the decode can never disagree.
 * Throws BMF_ERR_DECODER_OUTPUTS naming the mismatch.
 */
export function checkDecoderFits(
  spec: DecoderSpec,
  outputs: readonly OutputShape[],
  input: { readonly height: number; readonly width: number },
): void {
  if (spec.kind === 'classify') {
    if (outputs.length === 0) {
      throw bmfError('BMF_ERR_DECODER_OUTPUTS', {
        decoder: 'classify',
        reason: 'model has no output',
      });
    }
    return;
  }
  const byName: Record<string, Tensor> = {};
  for (const name of decoderOutputNames(spec)) {
    const o = outputs.find((x) => x.name === name);
    if (!o) {
      throw bmfError('BMF_ERR_DECODER_OUTPUTS', {
        decoder: spec.kind,
        reason: `model has no output ${name} (it has ${outputs.map((x) => x.name).join(', ')})`,
      });
    }
    const n = shapeSize(o.shape);
    if (n > MAX_CHECK_ELEMENTS) {
      throw bmfError('BMF_ERR_DECODER_OUTPUTS', {
        decoder: spec.kind,
        reason: `output ${name} has ${n} elements, more than ${MAX_CHECK_ELEMENTS}`,
      });
    }
    byName[name] = makeTensor('float32', o.shape, new Float32Array(n));
  }
  const batch = batchOf(spec, byName);
  for (const name of Object.keys(byName)) {
    if (byName[name]?.shape[0] !== batch) {
      throw bmfError('BMF_ERR_DECODER_OUTPUTS', {
        decoder: spec.kind,
        reason: `output ${name} has batch ${byName[name]?.shape[0]}, others ${batch}`,
      });
    }
  }
  const identity = tensorMapping(input.width, input.height);
  decodeDetections(spec, byName, {
    inputHeight: input.height,
    inputWidth: input.width,
    mappings: [identity],
  });
}

export type { Detection, OutputView };
