// ONNX bytes <-> OnnxModel. Decoding is the edge: anything that is not a ModelProto with a graph
// and an opset is refused with BMF_ERR_MODEL_NOT_ONNX before any other code sees it.
import { bmfError } from '../../shared/errors.js';
import { onnxModelType } from './schema.js';
import type { OnnxModel } from './types.js';

/** protobuf messages are limited to 2 GiB; larger ONNX models use external data. */
export const MAX_ONNX_BYTES = 2 ** 31 - 1;

function notOnnx(path: string, reason: string, cause?: unknown): never {
  throw bmfError('BMF_ERR_MODEL_NOT_ONNX', { path, reason }, cause ? { cause } : undefined);
}

export function loadOnnx(bytes: Uint8Array, path = '<bytes>'): OnnxModel {
  if (bytes.length === 0) notOnnx(path, 'empty input');
  if (bytes.length > MAX_ONNX_BYTES) notOnnx(path, `${bytes.length} bytes exceeds 2 GiB`);
  const type = onnxModelType();
  let decoded: Record<string, unknown>;
  try {
    const message = type.decode(bytes);
    decoded = type.toObject(message, { longs: Number, arrays: false, defaults: false });
  } catch (e) {
    notOnnx(path, `protobuf decode failed: ${(e as Error).message}`, e);
  }
  const model = decoded as unknown as OnnxModel;
  if (!model.irVersion || model.irVersion < 1) notOnnx(path, 'no ir_version');
  if (!decoded.graph) notOnnx(path, 'no graph');
  if (!model.opsetImport?.length) notOnnx(path, 'no opset_import');
  if (!model.graph.node?.length) notOnnx(path, 'graph has no nodes');
  for (const node of model.graph.node) {
    if (!node.opType) notOnnx(path, `node ${node.name ?? '?'} has no op_type`);
  }
  return model;
}

export function encodeOnnx(model: OnnxModel): Uint8Array {
  const type = onnxModelType();
  const message = type.fromObject(model as unknown as Record<string, unknown>);
  return type.encode(message).finish();
}

/** The default-domain opset version the model imports ('' and 'ai.onnx' are the same domain). */
export function defaultOpset(model: OnnxModel): number {
  const entry = model.opsetImport?.find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry?.version ?? 0;
}
