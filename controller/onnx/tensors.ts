// Initializer values as typed arrays. ONNX stores a tensor either in raw_data (little-endian
// bytes) or in the typed repeated field for its data_type (float_data, int32_data, int64_data;
// onnx.proto TensorProto comments). Readers accept both; writers always use raw_data.
import { bmfError } from '../../shared/errors.js';
import { shapeSize } from '../../shared/tensor.js';
import type { OnnxModel, OnnxTensor } from './types.js';
import { ONNX_DTYPE, ONNX_DTYPE_NAMES } from './types.js';

function fail(t: OnnxTensor, reason: string): never {
  throw bmfError('BMF_ERR_MODEL_UNSUPPORTED', {
    reason: `initializer ${t.name ?? '?'}: ${reason}`,
  });
}

function dtypeName(code: number | undefined): string {
  return ONNX_DTYPE_NAMES[code ?? 0] ?? `type ${code}`;
}

export function tensorDims(t: OnnxTensor): number[] {
  return [...(t.dims ?? [])];
}

/** An aligned private copy of raw_data, checked against the element count. */
function rawCopy(t: OnnxTensor, elementBytes: number): ArrayBuffer | undefined {
  if (t.dataLocation === 1) fail(t, 'stored as external data, which bmfleet does not read');
  const raw = t.rawData;
  if (!raw || raw.length === 0) return undefined;
  const n = shapeSize(tensorDims(t));
  if (raw.length !== n * elementBytes) {
    fail(t, `raw_data has ${raw.length} bytes, dims need ${n * elementBytes}`);
  }
  return new Uint8Array(raw).buffer;
}

function checkCount(t: OnnxTensor, got: number): void {
  const n = shapeSize(tensorDims(t));
  if (got !== n) fail(t, `holds ${got} values, dims need ${n}`);
}

export function readFloat32(t: OnnxTensor): Float32Array {
  if (t.dataType === ONNX_DTYPE.FLOAT) {
    const buf = rawCopy(t, 4);
    const out = buf ? new Float32Array(buf) : Float32Array.from(t.floatData ?? []);
    checkCount(t, out.length);
    return out;
  }
  if (t.dataType === ONNX_DTYPE.DOUBLE) {
    const buf = rawCopy(t, 8);
    const out = Float32Array.from(buf ? new Float64Array(buf) : (t.doubleData ?? []));
    checkCount(t, out.length);
    return out;
  }
  return fail(t, `is ${dtypeName(t.dataType)}, expected FLOAT`);
}

export function readInt8(t: OnnxTensor): Int8Array {
  if (t.dataType !== ONNX_DTYPE.INT8) fail(t, `is ${dtypeName(t.dataType)}, expected INT8`);
  const buf = rawCopy(t, 1);
  // Without raw_data, 8-bit values travel in int32_data (onnx.proto).
  const out = buf ? new Int8Array(buf) : Int8Array.from(t.int32Data ?? []);
  checkCount(t, out.length);
  return out;
}

export function readInt32(t: OnnxTensor): Int32Array {
  if (t.dataType !== ONNX_DTYPE.INT32) fail(t, `is ${dtypeName(t.dataType)}, expected INT32`);
  const buf = rawCopy(t, 4);
  const out = buf ? new Int32Array(buf) : Int32Array.from(t.int32Data ?? []);
  checkCount(t, out.length);
  return out;
}

/** INT64 values as numbers (exact up to 2^53, enough for shapes, axes and indices). */
export function readInt64(t: OnnxTensor): number[] {
  if (t.dataType !== ONNX_DTYPE.INT64) fail(t, `is ${dtypeName(t.dataType)}, expected INT64`);
  const buf = rawCopy(t, 8);
  const out = buf ? Array.from(new BigInt64Array(buf), Number) : [...(t.int64Data ?? [])];
  checkCount(t, out.length);
  return out;
}

function rawTensor(
  name: string,
  dims: readonly number[],
  dataType: number,
  data: ArrayBufferView,
): OnnxTensor {
  const n = shapeSize(dims);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  const elementBytes =
    data.byteLength / Math.max(1, (data as unknown as { length: number }).length);
  if ((data as unknown as { length: number }).length !== n) {
    throw bmfError('BMF_ERR_TENSOR_SHAPE', {
      reason: `${name}: dims [${dims.join(',')}] need ${n} values, got ${bytes.length / elementBytes}`,
    });
  }
  return { name, dims: [...dims], dataType, rawData: bytes };
}

export function float32Tensor(
  name: string,
  dims: readonly number[],
  data: Float32Array,
): OnnxTensor {
  return rawTensor(name, dims, ONNX_DTYPE.FLOAT, data);
}
export function int8Tensor(name: string, dims: readonly number[], data: Int8Array): OnnxTensor {
  return rawTensor(name, dims, ONNX_DTYPE.INT8, data);
}
export function uint8Tensor(name: string, dims: readonly number[], data: Uint8Array): OnnxTensor {
  return rawTensor(name, dims, ONNX_DTYPE.UINT8, data);
}
export function int32Tensor(name: string, dims: readonly number[], data: Int32Array): OnnxTensor {
  return rawTensor(name, dims, ONNX_DTYPE.INT32, data);
}
export function int64Tensor(
  name: string,
  dims: readonly number[],
  data: readonly number[],
): OnnxTensor {
  return rawTensor(
    name,
    dims,
    ONNX_DTYPE.INT64,
    BigInt64Array.from(data, (v) => BigInt(v)),
  );
}

export function findInitializer(model: OnnxModel, name: string): OnnxTensor | undefined {
  return model.graph.initializer?.find((t) => t.name === name);
}

export function initializerNames(model: OnnxModel): Set<string> {
  return new Set((model.graph.initializer ?? []).map((t) => t.name ?? ''));
}
