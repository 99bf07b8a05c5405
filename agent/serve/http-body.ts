// Edge decoding of POST /v1/infer bodies: a JSON tensor request becomes typed feeds (dtype,
// shape and element count checked) and a response's tensors become plain JSON.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { bmfError } from '../../shared/errors.js';
import { shapeSize } from '../../shared/tensor.js';
import type { Tensor } from '../../shared/tensor.js';
import type { InferResponse } from './service.js';

const JsonTensor = Type.Object(
  {
    dtype: Type.Union([
      Type.Literal('float32'),
      Type.Literal('int8'),
      Type.Literal('uint8'),
      Type.Literal('int32'),
    ]),
    shape: Type.Array(Type.Integer({ minimum: 0, maximum: 1 << 24 }), { maxItems: 8 }),
    data: Type.Array(Type.Number()),
  },
  { additionalProperties: false },
);

export const TensorRequestSchema = Type.Object(
  {
    inputs: Type.Record(Type.String({ maxLength: 256 }), JsonTensor),
    requestKey: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type TensorRequest = Static<typeof TensorRequestSchema>;

/**
 * A class label for a classifier's answer, or ground-truth boxes (x1, y1, x2, y2 in source
 * pixels, class by index or label) for a detector's: exactly one of the two.
 */
export const FeedbackSchema = Type.Object(
  {
    requestId: Type.String({ minLength: 1, maxLength: 128 }),
    label: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0 }), Type.String({ minLength: 1, maxLength: 256 })]),
    ),
    boxes: Type.Optional(
      Type.Array(
        Type.Object(
          {
            box: Type.Tuple([Type.Number(), Type.Number(), Type.Number(), Type.Number()]),
            classId: Type.Optional(Type.Integer({ minimum: 0 })),
            label: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
          },
          { additionalProperties: false },
        ),
        { maxItems: 10000 },
      ),
    ),
  },
  { additionalProperties: false },
);
export type FeedbackRequest = Static<typeof FeedbackSchema>;

const MAKERS = {
  float32: (d: number[]) => Float32Array.from(d),
  int8: (d: number[]) => Int8Array.from(d),
  uint8: (d: number[]) => Uint8Array.from(d),
  int32: (d: number[]) => Int32Array.from(d),
} as const;

export function feedsFromJson(body: TensorRequest): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(body.inputs)) {
    const n = shapeSize(t.shape);
    if (n !== t.data.length) {
      throw bmfError('BMF_ERR_TENSOR_SHAPE', {
        reason: `input ${name}: shape [${t.shape.join(',')}] needs ${n} values, got ${t.data.length}`,
      });
    }
    feeds[name] = { dtype: t.dtype, shape: t.shape, data: MAKERS[t.dtype](t.data) };
  }
  return feeds;
}

/**
 * The /v1/infer answer. A detector's raw outputs (a YOLOv5s head alone is 2.1 M numbers) are left
 * out: its answer is the decoded boxes.
 */
export function responseToJson(r: InferResponse): Record<string, unknown> {
  const outputs: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(r.detections ? {} : r.outputs)) {
    outputs[name] = { dtype: t.dtype, shape: t.shape, data: Array.from(t.data, Number) };
  }
  return {
    requestId: r.requestId,
    variant: r.variant,
    bundleDigest: r.bundleDigest,
    modelVersion: r.modelVersion,
    topK: r.topK,
    ...(r.detections && { detections: r.detections }),
    timings: r.timings,
    timing: r.timing,
    outputs,
  };
}
