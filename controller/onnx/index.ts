// controller/onnx: ONNX model access (decode/encode, checks, shapes, execution).
export { loadOnnx, encodeOnnx, defaultOpset, MAX_ONNX_BYTES } from './codec.js';
export { checkSupported, assertSupported, resolveInputShapes } from './check.js';
export type { OnnxProblem, OnnxProblemKind } from './check.js';
export { describeGraph, exposeAllValues, zeroFeeds } from './describe.js';
export type { GraphNodeInfo } from './describe.js';
export {
  editGraph,
  addNode,
  addInitializer,
  addGraphOutput,
  replaceInitializer,
  valueInfo,
  attribute,
  attributeValue,
  makeNode,
  makeModel,
} from './edit.js';
export type { GraphEdit, ModelSpec, AttributeValue } from './edit.js';
export { graphInputs, graphOutputs, staticShape } from './io.js';
export { createOnnxSession, runOnnx, runOnnxShapes } from './run.js';
export type { OnnxSession, OnnxSessionOptions, OnnxValueShape } from './run.js';
export {
  readFloat32,
  readInt8,
  readInt32,
  readInt64,
  float32Tensor,
  int8Tensor,
  uint8Tensor,
  int32Tensor,
  int64Tensor,
  findInitializer,
  initializerNames,
  tensorDims,
} from './tensors.js';
export { OPERATORS, operatorsWhere, SUPPORTED_OPS, OPSET_RANGE } from './operators.js';
export type { OperatorCost, OperatorInfo } from './operators.js';
export { ONNX_DTYPE, ONNX_DTYPE_NAMES, ONNX_ATTR } from './types.js';
export type * from './types.js';
