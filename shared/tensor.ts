// The tensor value both sides pass around: a typed array plus its shape. Kept dependency-free so
// preprocessing, runtimes, calibration and telemetry all speak the same type.
import { bmfError } from './errors.js';

export type TensorDtype = 'float32' | 'int8' | 'uint8' | 'int32' | 'int64' | 'float16';

export interface TensorDataMap {
  float32: Float32Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int32: Int32Array;
  int64: BigInt64Array;
  float16: Uint16Array;
}

export interface Tensor<D extends TensorDtype = TensorDtype> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: TensorDataMap[D];
}

export const dtypeBytes: Readonly<Record<TensorDtype, number>> = {
  float32: 4,
  int8: 1,
  uint8: 1,
  int32: 4,
  int64: 8,
  float16: 2,
};

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw bmfError('BMF_ERR_TENSOR_SHAPE', {
        reason: `bad dimension ${d} in [${shape.join(',')}]`,
      });
    }
    n *= d;
  }
  return n;
}

export function makeTensor<D extends TensorDtype>(
  dtype: D,
  shape: readonly number[],
  data: TensorDataMap[D],
): Tensor<D> {
  const n = shapeSize(shape);
  if (data.length !== n) {
    throw bmfError('BMF_ERR_TENSOR_SHAPE', {
      reason: `shape [${shape.join(',')}] needs ${n} elements, got ${data.length}`,
    });
  }
  return { dtype, shape: [...shape], data };
}

/** The tensor's bytes (little-endian, as typed arrays are on every supported host). */
export function tensorBytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}
