// The output decoder a bundle declares (manifest outputs.decoder): which decoding turns the
// model's raw outputs into answers, with its parameters. Validated here, at the edge, into a
// complete frozen value (defaults filled). `classify` is today's top-k and the default, so a
// manifest without a decoder reads exactly as before.
//
// Vocabulary and defaults follow the code the vendor demos port:
// - yolov5: ultralytics/yolov5 models/yolo.py (Detect, default anchors) and utils/general.py
//   non_max_suppression (conf 0.25, IoU 0.45, max_det 300, per-class NMS);
// - yolov8: ultralytics/ultralytics nn/modules/head.py (Detect: [N, 4+C, boxes], no objectness);
// - retinaface 'priors': biubug6/Pytorch_Retinaface data/config.py (min_sizes, steps, variance),
//   layers/functions/prior_box.py and utils/box_utils.py (decode, decode_landm);
// - retinaface 'anchors': deepinsight/insightface RetinaFace/retinaface.py (anchor_cfg per stride
//   32/16/8 with scales (32,16), (8,4), (2,1), base size 16; outputs
//   face_rpn_{cls_prob_reshape,bbox_pred,landmark_pred}_stride{s}).
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { deepFreeze } from '../config/load.js';
import { bmfError } from '../errors.js';

const Strict = { additionalProperties: false } as const;
const OutputName = Type.String({ minLength: 1, maxLength: 256 });
const Positive = Type.Number({ exclusiveMinimum: 0, maximum: 1e6 });
const Stride = Type.Integer({ minimum: 1, maximum: 1024 });

/** What every detector shares: thresholds and NMS. */
const nmsFields = (score: number, iou: number, maxDetections: number) => ({
  /** Detections scoring below this are dropped before NMS. */
  score_threshold: Type.Number({ minimum: 0, maximum: 1, default: score }),
  /** A box overlapping a kept, higher-scoring box by more than this IoU is suppressed. */
  iou_threshold: Type.Number({ minimum: 0, maximum: 1, default: iou }),
  max_detections: Type.Integer({ minimum: 1, maximum: 10000, default: maxDetections }),
  /** true: one NMS over all classes; false: NMS within each class (the YOLO default). */
  class_agnostic: Type.Boolean({ default: false }),
});

export const ClassifyDecoderSchema = Type.Object({ kind: Type.Literal('classify') }, Strict);

/** YOLOv5 default anchors (pixels, per head of strides 8, 16, 32). */
export const YOLOV5_ANCHORS = [
  [10, 13, 16, 30, 33, 23],
  [30, 61, 62, 45, 59, 119],
  [116, 90, 156, 198, 373, 326],
] as const;

export const Yolov5DecoderSchema = Type.Object(
  {
    kind: Type.Literal('yolov5'),
    /**
     * One name: the decoded output [N, boxes, 5+C] (xywh in input pixels, objectness and class
     * scores already through the sigmoid). Several names: raw head outputs [N, 3, H, W, 5+C] or
     * [N, 3*(5+C), H, W] (logits), one per stride, in the order of `strides`.
     */
    outputs: Type.Array(OutputName, { minItems: 1, maxItems: 8 }),
    num_classes: Type.Integer({ minimum: 1, maximum: 100000 }),
    strides: Type.Array(Stride, { minItems: 1, maxItems: 8, default: [8, 16, 32] }),
    /** Per head: anchor (width, height) pairs in input pixels, flattened. */
    anchors: Type.Array(Type.Array(Positive, { minItems: 2, maxItems: 32 }), {
      minItems: 1,
      maxItems: 8,
      default: YOLOV5_ANCHORS.map((a) => [...a]),
    }),
    ...nmsFields(0.25, 0.45, 300),
  },
  Strict,
);

export const Yolov8DecoderSchema = Type.Object(
  {
    kind: Type.Literal('yolov8'),
    /** [N, 4+C, boxes] (cx, cy, w, h in input pixels, then C class scores after the sigmoid). */
    output: OutputName,
    num_classes: Type.Integer({ minimum: 1, maximum: 100000 }),
    ...nmsFields(0.25, 0.45, 300),
  },
  Strict,
);

export const RetinafacePriorsDecoderSchema = Type.Object(
  {
    kind: Type.Literal('retinaface'),
    layout: Type.Literal('priors'),
    /** loc [N, P, 4], conf [N, P, 2] (softmax over background/face), landmarks [N, P, 10]. */
    outputs: Type.Object(
      { loc: OutputName, conf: OutputName, landmarks: Type.Optional(OutputName) },
      Strict,
    ),
    min_sizes: Type.Array(Type.Array(Positive, { minItems: 1, maxItems: 8 }), {
      minItems: 1,
      maxItems: 8,
      default: [
        [16, 32],
        [64, 128],
        [256, 512],
      ],
    }),
    steps: Type.Array(Stride, { minItems: 1, maxItems: 8, default: [8, 16, 32] }),
    variances: Type.Tuple([Positive, Positive], { default: [0.1, 0.2] }),
    /** 'logits' when the exported graph stops before the softmax. */
    conf_activation: Type.Union([Type.Literal('softmax_applied'), Type.Literal('logits')], {
      default: 'softmax_applied',
    }),
    ...nmsFields(0.5, 0.4, 750),
  },
  Strict,
);

export const RetinafaceAnchorsDecoderSchema = Type.Object(
  {
    kind: Type.Literal('retinaface'),
    layout: Type.Literal('anchors'),
    /**
     * Per stride: cls [N, 2A, H, W] (background probabilities for the A anchors, then face
     * probabilities), bbox [N, 4A, H, W], landmark [N, 10A, H, W] (optional).
     */
    heads: Type.Array(
      Type.Object(
        {
          stride: Stride,
          cls: OutputName,
          bbox: OutputName,
          landmark: Type.Optional(OutputName),
          /** Anchor sizes are base_size * scale (square anchors, ratio 1). */
          scales: Type.Array(Positive, { minItems: 1, maxItems: 16 }),
        },
        Strict,
      ),
      {
        minItems: 1,
        maxItems: 8,
        default: [32, 16, 8].map((s) => ({
          stride: s,
          cls: `face_rpn_cls_prob_reshape_stride${s}`,
          bbox: `face_rpn_bbox_pred_stride${s}`,
          landmark: `face_rpn_landmark_pred_stride${s}`,
          scales: s === 32 ? [32, 16] : s === 16 ? [8, 4] : [2, 1],
        })),
      },
    ),
    base_size: Type.Number({ exclusiveMinimum: 0, maximum: 4096, default: 16 }),
    ...nmsFields(0.5, 0.4, 750),
  },
  Strict,
);

export const DecoderSpecSchema = Type.Union([
  ClassifyDecoderSchema,
  Yolov5DecoderSchema,
  Yolov8DecoderSchema,
  RetinafacePriorsDecoderSchema,
  RetinafaceAnchorsDecoderSchema,
]);

export type DecoderSpec = Readonly<Static<typeof DecoderSpecSchema>>;
export type Yolov5Decoder = Static<typeof Yolov5DecoderSchema>;
export type Yolov8Decoder = Static<typeof Yolov8DecoderSchema>;
export type RetinafacePriorsDecoder = Static<typeof RetinafacePriorsDecoderSchema>;
export type RetinafaceAnchorsDecoder = Static<typeof RetinafaceAnchorsDecoderSchema>;
export type DetectorSpec = Exclude<DecoderSpec, { kind: 'classify' }>;
export type DecoderKind = DecoderSpec['kind'];

export const CLASSIFY: DecoderSpec = Object.freeze({ kind: 'classify' });

function specError(field: string, reason: string): never {
  throw bmfError('BMF_ERR_DECODER_SPEC', { field, reason });
}

function schemaFor(json: Record<string, unknown>) {
  switch (json['kind']) {
    case 'classify':
      return ClassifyDecoderSchema;
    case 'yolov5':
      return Yolov5DecoderSchema;
    case 'yolov8':
      return Yolov8DecoderSchema;
    case 'retinaface':
      if (json['layout'] === 'priors') return RetinafacePriorsDecoderSchema;
      if (json['layout'] === 'anchors') return RetinafaceAnchorsDecoderSchema;
      return specError(
        'layout',
        `expected "priors" or "anchors", got ${JSON.stringify(json['layout'])}`,
      );
    default:
      return specError(
        'kind',
        `expected classify, yolov5, yolov8 or retinaface, got ${JSON.stringify(json['kind'])}`,
      );
  }
}

/** Rules a schema cannot say: one anchor set per head, strides matching outputs. */
function checkSemantics(d: DecoderSpec): void {
  if (d.kind === 'yolov5' && d.outputs.length > 1) {
    if (d.outputs.length !== d.strides.length) {
      specError('strides', `${d.outputs.length} head outputs need as many strides`);
    }
    if (d.anchors.length !== d.outputs.length) {
      specError('anchors', `${d.outputs.length} head outputs need as many anchor sets`);
    }
    const perHead = (d.anchors[0] ?? []).length;
    d.anchors.forEach((a, i) => {
      if (a.length % 2 !== 0) specError(`anchors.${i}`, 'expected (width, height) pairs');
      if (a.length !== perHead) specError(`anchors.${i}`, 'every head needs the same anchor count');
    });
  }
  if (d.kind === 'retinaface' && d.layout === 'priors' && d.min_sizes.length !== d.steps.length) {
    specError('min_sizes', `expected one list per step (${d.steps.length})`);
  }
}

/** Validate untrusted JSON (manifest, CLI file) into a complete, frozen DecoderSpec. */
export function parseDecoderSpec(json: unknown): DecoderSpec {
  if (json === undefined) return CLASSIFY;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    specError('(root)', 'expected a JSON object');
  }
  const schema = schemaFor(json as Record<string, unknown>);
  const value = Value.Default(schema, structuredClone(json)) as unknown;
  if (!Value.Check(schema, value)) {
    const first = Value.Errors(schema, value).First();
    const field = (first?.path ?? '').replace(/^\//, '').replace(/\//g, '.') || '(root)';
    specError(field, first?.message ?? 'invalid');
  }
  const spec = value as DecoderSpec;
  checkSemantics(spec);
  return deepFreeze(spec);
}

export function isDetector(d: DecoderSpec): d is DetectorSpec {
  return d.kind !== 'classify';
}
