// The golden set a bundle carries (file role `golden`): JSON
//   { "inputs": [ { "<input>": { "dtype", "shape", "data": "<base64 little-endian>" } } ],
//     "labels"?: [int], "referenceOutputs"?: [ { "<output>": { ...same tensor form } } ],
//     "boxes"?: [ { "width", "height", "boxes": [ [class, x1, y1, x2, y2] ] } ] }
// (`boxes`: a detector's ground truth per input, in the source image's pixels, for the mAP gate)
// decoded at the edge with size and shape checks.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { bmfError } from '../../shared/errors.js';
import { dtypeBytes, shapeSize } from '../../shared/tensor.js';
import type { Tensor, TensorDtype } from '../../shared/tensor.js';
import { TensorDtypeSchema, TensorShapeSchema } from './tensor-schema.js';
import { inputRecord } from './http-body.js';
import type { GoldenSet } from './types.js';

const MAX_SAMPLES = 10_000;

const TensorJson = Type.Object(
  {
    dtype: TensorDtypeSchema,
    shape: TensorShapeSchema,
    data: Type.String(),
  },
  { additionalProperties: false },
);
const Feeds = inputRecord(TensorJson);
const Coordinate = Type.Number({ minimum: -1e6, maximum: 1e6 });
const ImageBoxes = Type.Object(
  {
    width: Type.Integer({ minimum: 1, maximum: 1 << 16 }),
    height: Type.Integer({ minimum: 1, maximum: 1 << 16 }),
    boxes: Type.Array(
      Type.Tuple([
        Type.Integer({ minimum: 0, maximum: 100000 }),
        Coordinate,
        Coordinate,
        Coordinate,
        Coordinate,
      ]),
      { maxItems: 10000 },
    ),
  },
  { additionalProperties: false },
);
export const GoldenFileSchema = Type.Object(
  {
    inputs: Type.Array(Feeds, { minItems: 1, maxItems: MAX_SAMPLES }),
    labels: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }), { maxItems: MAX_SAMPLES })),
    referenceOutputs: Type.Optional(Type.Array(Feeds, { maxItems: MAX_SAMPLES })),
    boxes: Type.Optional(Type.Array(ImageBoxes, { maxItems: MAX_SAMPLES })),
  },
  { additionalProperties: false },
);
export type GoldenFile = Static<typeof GoldenFileSchema>;

function invalid(reason: string): never {
  throw bmfError('BMF_ERR_BUNDLE_MANIFEST', { field: 'golden', reason });
}

const VIEWS: Record<'float32' | 'int8' | 'uint8' | 'int32', (b: ArrayBuffer) => Tensor['data']> = {
  float32: (b) => new Float32Array(b),
  int8: (b) => new Int8Array(b),
  uint8: (b) => new Uint8Array(b),
  int32: (b) => new Int32Array(b),
};

function decodeTensor(t: Static<typeof TensorJson>, where: string): Tensor {
  const bytes = Buffer.from(t.data, 'base64');
  const n = shapeSize(t.shape);
  if (bytes.length !== n * dtypeBytes[t.dtype as TensorDtype]) {
    invalid(`${where}: ${bytes.length} bytes for ${t.dtype}[${t.shape.join(',')}]`);
  }
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
  return { dtype: t.dtype, shape: t.shape, data: VIEWS[t.dtype](copy) };
}

function decodeFeeds(f: Static<typeof Feeds>, where: string): Record<string, Tensor> {
  return Object.fromEntries(
    Object.entries(f).map(([k, v]) => [k, decodeTensor(v, `${where}.${k}`)]),
  );
}

export function parseGoldenFile(bytes: Uint8Array): GoldenSet {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    invalid(`not JSON: ${(e as Error).message}`);
  }
  if (!Value.Check(GoldenFileSchema, value)) {
    const first = Value.Errors(GoldenFileSchema, value).First();
    invalid(`${first?.path ?? ''}: ${first?.message ?? 'invalid'}`);
  }
  const g = value;
  if (g.labels && g.labels.length !== g.inputs.length)
    invalid('labels and inputs differ in length');
  if (g.referenceOutputs && g.referenceOutputs.length !== g.inputs.length) {
    invalid('referenceOutputs and inputs differ in length');
  }
  if (g.boxes && g.boxes.length !== g.inputs.length) invalid('boxes and inputs differ in length');
  g.boxes?.forEach((img, i) =>
    img.boxes.forEach((b, j) => {
      if (b[3] < b[1] || b[4] < b[2]) invalid(`boxes[${i}].boxes[${j}]: x2 < x1 or y2 < y1`);
    }),
  );
  return {
    inputs: g.inputs.map((f, i) => decodeFeeds(f, `inputs[${i}]`)),
    ...(g.labels && { labels: g.labels }),
    ...(g.referenceOutputs && {
      referenceOutputs: g.referenceOutputs.map((f, i) => decodeFeeds(f, `referenceOutputs[${i}]`)),
    }),
    ...(g.boxes && {
      boxes: g.boxes.map((img) => ({
        width: img.width,
        height: img.height,
        boxes: img.boxes.map(([classId, x1, y1, x2, y2]) => ({
          classId,
          box: [x1, y1, x2, y2] as const,
        })),
      })),
    }),
  };
}

/** The inverse, for the tests and tools that write golden sets. */
export function encodeGoldenFile(g: GoldenSet): Uint8Array {
  const enc = (f: Readonly<Record<string, Tensor>>) =>
    Object.fromEntries(
      Object.entries(f).map(([k, t]) => [
        k,
        {
          dtype: t.dtype,
          shape: t.shape,
          data: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64'),
        },
      ]),
    );
  return new TextEncoder().encode(
    JSON.stringify({
      inputs: g.inputs.map(enc),
      ...(g.labels && { labels: g.labels }),
      ...(g.referenceOutputs && { referenceOutputs: g.referenceOutputs.map(enc) }),
      ...(g.boxes && {
        boxes: g.boxes.map((img) => ({
          width: img.width,
          height: img.height,
          boxes: img.boxes.map((b) => [b.classId, ...b.box]),
        })),
      }),
    }),
  );
}
