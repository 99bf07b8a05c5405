// Coefficient (weight) memory of a net as the vendor compiler lays it out, for simulator BMODELs
// (docs/vendor.md section 2, "Coefficient memory of simulator BMODELs"). tpu-mlir's
// BMAddressAssign::assign (lib/Dialect/Tpu/Transforms/AddressAssign/BMAddressAssign.cpp) gives
// every weight op its bytes at the stored dtype (elements x bits / 8, rounded up to a byte) and
// moves the next address up to BM168x::ALIGNMENT, 0x1000 on BM1684, BM1684X and BM1688
// (include/tpu_mlir/Backend/BM168x/BM1684*.h, BM1688.h); coeff_size is the sum. bmfleet applies
// that to the initializers its simulator payload stores, which are already at the stored dtype
// (FP32; FP16/BF16 weights for those precisions; INT8 weights with INT32 biases and per-channel
// scales for INT8). Left out, as tpu-mlir does not keep them as weights: INT64 tensors (shapes,
// axes: op attributes there), single values (scalar attributes), and the zero points of QDQ
// pairs (symmetric INT8 has none on the chip). Not modelled: BM1684's 4N storage of some INT8
// weights (N rounded up to 4).
import type { OnnxModel, OnnxTensor } from '../onnx/index.js';
import { ONNX_DTYPE, tensorDims } from '../onnx/index.js';

export const COEFF_ALIGNMENT = 0x1000;

const BITS: Readonly<Record<number, number>> = {
  [ONNX_DTYPE.FLOAT]: 32,
  [ONNX_DTYPE.FLOAT16]: 16,
  [ONNX_DTYPE.BFLOAT16]: 16,
  [ONNX_DTYPE.INT8]: 8,
  [ONNX_DTYPE.UINT8]: 8,
  [ONNX_DTYPE.INT16]: 16,
  [ONNX_DTYPE.INT32]: 32,
  [ONNX_DTYPE.DOUBLE]: 64,
};

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Pure: the stored bytes of one weight, before alignment (0 when it is not a weight). */
export function weightBytes(t: OnnxTensor): number {
  const bits = BITS[t.dataType ?? 0];
  if (bits === undefined) return 0;
  const elements = tensorDims(t).reduce((a, b) => a * b, 1);
  if (elements <= 1) return 0;
  return Math.ceil((elements * bits) / 8);
}

/** Pure: the coefficient memory of the net `model` describes, aligned as tpu-mlir aligns it. */
export function coefficientBytes(model: OnnxModel): number {
  const nodes = model.graph.node ?? [];
  // Inputs that some node reads as data; a QDQ pair's zero point (input 2) does not count.
  const used = new Set<string>();
  for (const n of nodes) {
    const qdq = n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear';
    (n.input ?? []).forEach((name, i) => {
      if (!(qdq && i === 2)) used.add(name);
    });
  }
  let total = 0;
  for (const t of model.graph.initializer ?? []) {
    if (!t.name || !used.has(t.name)) continue;
    const bytes = weightBytes(t);
    if (bytes > 0) total += alignUp(bytes, COEFF_ALIGNMENT);
  }
  return total;
}
