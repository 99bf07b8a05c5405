// Edge decoding of POST /v1/infer bodies: a JSON tensor request, or one tensor's raw bytes with
// its name, dtype and shape in the content type's parameters, becomes typed feeds (dtype, shape
// and element count checked); a response's tensors become plain JSON.
import { Type } from '@sinclair/typebox';
import type { Static, TSchema } from '@sinclair/typebox';
import { bmfError } from '../../shared/errors.js';
import { shapeSize } from '../../shared/tensor.js';
import type { Tensor } from '../../shared/tensor.js';
import type { InferResponse } from './service.js';
import {
  MAX_TENSOR_DIM,
  MAX_TENSOR_DIMS,
  TensorDtypeSchema,
  TensorShapeSchema,
} from './tensor-schema.js';

const JsonTensor = Type.Object(
  {
    dtype: TensorDtypeSchema,
    shape: TensorShapeSchema,
    data: Type.Array(Type.Number()),
  },
  { additionalProperties: false },
);

/**
 * A model input's name as a request or golden file keys it. As a record's key it becomes a
 * patternProperties pattern, where maxLength is not applied: the bound is in the pattern, and
 * the record refuses other keys (a 16 MiB name was echoed whole in "unknown inputs ...").
 */
export const InputNameKey = Type.String({ pattern: '^[\\s\\S]{1,256}$' });
export const inputRecord = <T extends TSchema>(value: T) =>
  Type.Record(InputNameKey, value, { additionalProperties: false, maxProperties: 64 });

export const TensorRequestSchema = Type.Object(
  {
    inputs: inputRecord(JsonTensor),
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

/**
 * One input tensor as raw little-endian bytes: `application/x-bmfleet-tensor; name=input;
 * dtype=float32; shape=1,3,224,224`. A 1x3x224x224 FP32 input is 602 KB this way against about
 * 3 MB of JSON numbers that the agent would parse, check one by one and convert.
 */
export const BINARY_TENSOR_TYPE = 'application/x-bmfleet-tensor';

const ELEMENT_BYTES = { float32: 4, int8: 1, uint8: 1, int32: 4 } as const;
type BinaryDtype = keyof typeof ELEMENT_BYTES;

function mediaTypeParameters(contentType: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of contentType.split(';').slice(1)) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    params.set(
      part.slice(0, eq).trim().toLowerCase(),
      part
        .slice(eq + 1)
        .trim()
        .replace(/^"|"$/g, ''),
    );
  }
  return params;
}

function requestError(reason: string): Error {
  return bmfError('BMF_ERR_INFER_REQUEST', { reason });
}

/** Decodes a BINARY_TENSOR_TYPE body into one feed, without a copy when it is aligned. */
export function feedsFromBinary(contentType: string, body: Uint8Array): Record<string, Tensor> {
  const params = mediaTypeParameters(contentType);
  const name = params.get('name');
  const dtype = params.get('dtype');
  const shapeText = params.get('shape');
  if (!name || name.length > 256) throw requestError(`${BINARY_TENSOR_TYPE} needs name=<input>`);
  if (!dtype || !(dtype in ELEMENT_BYTES)) {
    throw requestError(`dtype must be one of ${Object.keys(ELEMENT_BYTES).join(', ')}`);
  }
  const dims = shapeText?.split(',') ?? [];
  const shape = dims.map(Number);
  if (
    !shapeText ||
    dims.length > MAX_TENSOR_DIMS ||
    shape.some((d, i) => !/^\d+$/.test(dims[i]!.trim()) || d > MAX_TENSOR_DIM)
  ) {
    throw requestError(
      `shape must be up to ${MAX_TENSOR_DIMS} comma-separated dimensions, got "${shapeText}"`,
    );
  }
  const size = ELEMENT_BYTES[dtype as BinaryDtype];
  const n = shapeSize(shape);
  if (n * size !== body.byteLength) {
    throw bmfError('BMF_ERR_TENSOR_SHAPE', {
      reason: `input ${name}: shape [${shape.join(',')}] of ${dtype} needs ${n * size} bytes, got ${body.byteLength}`,
    });
  }
  // The request's buffer is the request's alone: viewed in place when its offset suits the
  // element size (a large body is a fresh buffer at offset 0), copied once when it does not.
  const bytes = body.byteOffset % size === 0 ? body : new Uint8Array(body);
  const { buffer, byteOffset } = bytes;
  const data = {
    float32: () => new Float32Array(buffer, byteOffset, n),
    int8: () => new Int8Array(buffer, byteOffset, n),
    uint8: () => new Uint8Array(buffer, byteOffset, n),
    int32: () => new Int32Array(buffer, byteOffset, n),
  }[dtype as BinaryDtype]();
  return { [name]: { dtype: dtype as BinaryDtype, shape, data } as Tensor };
}
