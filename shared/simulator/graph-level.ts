// How onnxruntime must run a simulated graph so that its numbers are the same on every x86 host:
// the one rule, used by the agent's simulator (agent/runtime/session-pool.ts) and by everything in
// the controller that runs an INT8 graph (the quantize verdict, layer similarity, the threshold
// search's scoring).
//
// Quantized graphs (QuantizeLinear/DequantizeLinear, or already-fused integer ops) run at 'basic'.
// From 'extended' up, onnxruntime's QDQ transformers fuse DQ -> Conv -> Q into QLinearConv, whose
// u8s8 kernel on AVX2 hosts without VNNI adds int8 products in pairs into 16-bit lanes
// (vpmaddubsw) that saturate: the same graph gave cosine 0.888 on such a host and 1.000 on a VNNI
// host. At 'basic' the Q/DQ stay unfused: integer rounding and clipping happen in
// QuantizeLinear, exactly, and the layers compute in FP32 between them, so the numbers a host
// gives differ from another's only by FP32 summation order.
// Float graphs (FP32, and FP16/BF16 emulated by Cast pairs) keep 'all': their fusions (Conv+BN,
// Conv+Relu, NCHWc layouts) only reorder FP32 sums, a 1e-6-relative effect with no saturation,
// and they are faster.
import { onnxOpTypes } from './onnx-op-types.js';

/** onnxruntime's GraphOptimizationLevel, by its JavaScript names. */
export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export type SimulatedArithmetic = 'float' | 'quantized';

export const SIMULATOR_GRAPH_LEVEL: Readonly<Record<SimulatedArithmetic, GraphOptimizationLevel>> =
  {
    float: 'all',
    quantized: 'basic',
  };

/** Operators whose presence makes a graph's arithmetic integer (opset and com.microsoft). */
export function isQuantizedOp(opType: string): boolean {
  return (
    opType === 'QuantizeLinear' ||
    opType === 'DequantizeLinear' ||
    opType === 'DynamicQuantizeLinear' ||
    opType === 'ConvInteger' ||
    opType === 'MatMulInteger' ||
    opType.startsWith('QLinear')
  );
}

export function graphArithmetic(opTypes: Iterable<string>): SimulatedArithmetic {
  for (const op of opTypes) if (isQuantizedOp(op)) return 'quantized';
  return 'float';
}

/** The level to run these ONNX bytes at (the graph decides, whatever a label says). */
export function simulatorGraphLevel(onnx: Uint8Array): GraphOptimizationLevel {
  return SIMULATOR_GRAPH_LEVEL[graphArithmetic(onnxOpTypes(onnx))];
}
