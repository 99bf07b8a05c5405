// The one registry of ONNX operators bmfleet knows: which the compile path accepts (the support
// check), how the cost model prices each, which have INT8 kernels on the TPU that the quantizer's
// sim target emulates, and how calibration thresholds pass through each (tpu-mlir's Backward and
// ForwardCalibration). Every such question is answered from this table, so adding an op is one
// entry here plus a case in test/fixtures/onnx/operator-cases.json that runs it on the simulator.
//
// Accepted: the default-domain ops of convolutional and MLP vision models that tpu-mlir's ONNX
// front end and onnxruntime (the simulator) both run; an op outside the table is refused up front
// rather than failing deep inside a vendor tool.

/** How the cost model prices a node (controller/compile/cost/graph.ts). */
export type OperatorCost =
  /** Pure metadata or view change: no device work. */
  | 'free'
  | 'conv'
  | 'matmul'
  | 'pool'
  /** One pass over the data; fusable into the producing layer. */
  | 'elementwise'
  /** Priced by its bytes (data movement, reductions, Softmax). */
  | 'other';

export interface OperatorInfo {
  readonly cost: OperatorCost;
  /** Has an INT8 kernel on the TPU that the sim target emulates (controller/quantize/layers.ts). */
  readonly int8?: true;
  /** Carries a weight initializer with an output-channel axis (per-channel INT8 weights). */
  readonly weighted?: true;
  /**
   * How thresholds pass through it (controller/quantize/propagate.ts): 'backward' ops give their
   * output threshold to their input and take their input's; 'forward' ops only take the input's.
   */
  readonly calibration?: 'backward' | 'forward';
}

const op = (cost: OperatorCost, more: Omit<OperatorInfo, 'cost'> = {}): OperatorInfo => ({
  cost,
  ...more,
});

export const OPERATORS: Readonly<Record<string, OperatorInfo>> = {
  // convolution, pooling, dense
  Conv: op('conv', { int8: true, weighted: true }),
  ConvTranspose: op('conv'),
  Gemm: op('matmul', { int8: true, weighted: true }),
  MatMul: op('matmul', { int8: true, weighted: true }),
  MaxPool: op('pool', { int8: true, calibration: 'backward' }),
  AveragePool: op('pool', { int8: true }),
  GlobalAveragePool: op('pool', { int8: true }),
  GlobalMaxPool: op('pool'),
  LpNormalization: op('other'),
  // normalisation
  BatchNormalization: op('elementwise'),
  InstanceNormalization: op('other'),
  LayerNormalization: op('other'),
  GroupNormalization: op('other'),
  // activations
  Relu: op('elementwise', { int8: true, calibration: 'backward' }),
  LeakyRelu: op('elementwise', { int8: true, calibration: 'backward' }),
  PRelu: op('elementwise'),
  Sigmoid: op('elementwise'),
  Tanh: op('elementwise'),
  Clip: op('elementwise', { int8: true }),
  HardSigmoid: op('elementwise'),
  HardSwish: op('elementwise'),
  Elu: op('other'),
  Selu: op('other'),
  Softplus: op('other'),
  Softsign: op('other'),
  Gelu: op('other'),
  Mish: op('other'),
  Softmax: op('other'),
  LogSoftmax: op('other'),
  Erf: op('elementwise'),
  // elementwise arithmetic
  Add: op('elementwise', { int8: true }),
  Sub: op('elementwise'),
  Mul: op('elementwise'),
  Div: op('elementwise'),
  Pow: op('elementwise'),
  Mod: op('elementwise'),
  Sqrt: op('elementwise'),
  Reciprocal: op('other'),
  Exp: op('elementwise'),
  Log: op('elementwise'),
  Abs: op('elementwise'),
  Neg: op('elementwise'),
  Max: op('elementwise'),
  Min: op('elementwise'),
  Sum: op('other'),
  Mean: op('other'),
  Floor: op('other'),
  Ceil: op('other'),
  Round: op('other'),
  Sign: op('other'),
  // comparison and selection
  Equal: op('other'),
  Less: op('other'),
  Greater: op('other'),
  LessOrEqual: op('other'),
  GreaterOrEqual: op('other'),
  Not: op('other'),
  And: op('other'),
  Or: op('other'),
  Where: op('other'),
  // reductions
  ReduceMean: op('other'),
  ReduceMax: op('other'),
  ReduceMin: op('other'),
  ReduceSum: op('other'),
  ReduceProd: op('other'),
  ReduceL2: op('other'),
  ArgMax: op('other'),
  ArgMin: op('other'),
  // selection (YOLOv10's v10postprocess: top 300 scores, their boxes gathered)
  TopK: op('other'),
  GatherElements: op('other'),
  // shape and data movement
  Reshape: op('free', { int8: true, calibration: 'backward' }),
  Flatten: op('free', { int8: true, calibration: 'backward' }),
  Transpose: op('other', { int8: true, calibration: 'forward' }),
  Concat: op('other', { int8: true }),
  Split: op('other'),
  Slice: op('other', { calibration: 'forward' }),
  Squeeze: op('free', { int8: true, calibration: 'forward' }),
  Unsqueeze: op('free', { int8: true, calibration: 'forward' }),
  Shape: op('free'),
  Gather: op('other'),
  Expand: op('other'),
  Tile: op('other', { calibration: 'forward' }),
  Pad: op('other', { int8: true, calibration: 'forward' }),
  Resize: op('other', { int8: true }),
  Upsample: op('other', { int8: true, calibration: 'forward' }),
  DepthToSpace: op('other'),
  SpaceToDepth: op('other'),
  ConstantOfShape: op('other'),
  Constant: op('free'),
  Identity: op('free'),
  Dropout: op('free'),
  Cast: op('elementwise'),
  // quantized graphs (the quantizer's QDQ output)
  QuantizeLinear: op('elementwise'),
  DequantizeLinear: op('elementwise'),
};

/** The ops whose registry entry satisfies `test`. */
export function operatorsWhere(test: (info: OperatorInfo) => boolean): ReadonlySet<string> {
  return new Set(Object.entries(OPERATORS).flatMap(([name, info]) => (test(info) ? [name] : [])));
}

/** Every op the compile path accepts. */
export const SUPPORTED_OPS: ReadonlySet<string> = new Set(Object.keys(OPERATORS));

/** The default-domain opset versions accepted (ONNX opset 7 = IR 3 era up to recent exporters). */
export const OPSET_RANGE = { min: 7, max: 22 } as const;
