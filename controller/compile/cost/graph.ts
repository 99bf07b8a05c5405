// Turns a shape-annotated ONNX graph (controller/onnx describeGraph, docs/architecture.md) into
// the cost model's layers. Pure. Counts are per image: every node's count is divided by the
// leading (batch) dimension of its first output.
//
// Fusion follows what the vendor compilers do to conv nets: BatchNormalization is folded into
// the preceding Conv/Gemm and activations run in the same layer. So an elementwise node whose
// data inputs all come from one conv/matmul layer (possibly through other fused nodes: BN, Relu,
// SiLU = x * Sigmoid(x), a bias Add) adds no layer of its own; a residual Add of two different
// layers does.
import { bmfError } from '../../../shared/errors.js';
import { OPERATORS, operatorsWhere } from '../../onnx/operators.js';
import type { CostLayer, CostLayerKind } from './estimate.js';

/**
 * Structural copy of controller/onnx's GraphNodeInfo contract (docs/architecture.md), kept local
 * so the cost model builds on the contract rather than on that module's file. Any value of the
 * contract's type is assignable to this one.
 */
export interface GraphNodeInfo {
  readonly name: string;
  readonly opType: string;
  readonly inputs: readonly {
    readonly name: string;
    readonly shape?: readonly number[] | undefined;
    readonly isInitializer: boolean;
  }[];
  readonly outputs: readonly {
    readonly name: string;
    readonly shape?: readonly number[] | undefined;
  }[];
  readonly attributes?: Readonly<Record<string, unknown>>;
}

/** Pure metadata or view changes: no device work (the op registry's cost classes). */
const FREE = operatorsWhere((op) => op.cost === 'free');
const ELEMENTWISE = operatorsWhere((op) => op.cost === 'elementwise');

/**
 * Fused into a conv/matmul at no extra cost: the conv's bias/scale stage and its ReLU family
 * (tpu-mlir's conv kernels take `do_relu` and a relu limit; BN folds into weights and bias).
 * Any other fused op (Sigmoid, the Mul of SiLU, Tanh, HardSwish...) is another pass of the
 * vector lanes over the conv's output, counted in `fusedVectorElems`.
 */
const PIPELINE_FREE = new Set(['BatchNormalization', 'Relu', 'LeakyRelu', 'Clip', 'PRelu', 'Add']);

/**
 * Vector-lane instructions per element of a fused pass; 1 unless listed. A Sigmoid is
 * 1 / (1 + exp(-x)): the exp is a range reduction (scale by log2 e, split integer and fraction),
 * a lookup of 2^int and a polynomial in the fraction (tpu-kernel's tpu_bdc_fp32_exp takes a
 * coefficient table and a 2^n table), about 16 instructions, then an add and a divide (about 4).
 * Estimates from the kernels' structure, not counted instructions (docs/cost-model.md).
 */
const EU_OPS_PER_ELEMENT: Readonly<Record<string, number>> = {
  Sigmoid: 21,
  Tanh: 22,
  Exp: 16,
  Erf: 20,
  HardSigmoid: 3,
  HardSwish: 4,
  Softplus: 20,
};

/** Activations the vendor's elementwise ops apply in the same pass (`do_relu`, relu limit). */
const RELU_FAMILY = new Set(['Relu', 'LeakyRelu', 'Clip']);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const product = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);

function shapeOf(node: GraphNodeInfo, where: string, shape: readonly number[] | undefined) {
  if (shape === undefined || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw bmfError('BMF_ERR_MODEL_DYNAMIC_SHAPE', {
      reason: `cost model needs static shapes: ${node.opType} node ${node.name} ${where}`,
    });
  }
  return shape;
}

/**
 * Whether tpu-mlir runs this data-movement node from local memory inside a layer group: a Concat
 * along the channels of a 3-D or 4-D tensor (tpu::ConcatOp::LocalGenSupport), or a nearest
 * Resize (ONNX's default mode) by one integer factor on H and W, which tpu-mlir's Interp
 * canonicalization turns into tpu::UpsampleOp, whose LocalGenSupport holds on BM168x.
 */
function runsInLayerGroup(node: GraphNodeInfo, input: readonly number[], out: readonly number[]) {
  if (node.opType === 'Concat') {
    const axis = Number(node.attributes?.['axis'] ?? 0);
    return (axis < 0 ? axis + out.length : axis) === 1 && (out.length === 3 || out.length === 4);
  }
  if (node.opType !== 'Resize' || (node.attributes?.['mode'] ?? 'nearest') !== 'nearest') {
    return false;
  }
  const [, , h = 0, w = 0] = input;
  const [, , oh = 0, ow = 0] = out;
  return (
    out.length === 4 && input.length === 4 && h > 0 && w > 0 && oh % h === 0 && oh / h === ow / w
  );
}

/** Tensor -> how many node inputs read it (a Shape node's read is folded away, not counted). */
function countUses(nodes: readonly GraphNodeInfo[]): Map<string, number> {
  const uses = new Map<string, number>();
  for (const node of nodes) {
    if (node.opType === 'Shape') continue;
    for (const i of node.inputs) if (i.name !== '') uses.set(i.name, (uses.get(i.name) ?? 0) + 1);
  }
  return uses;
}

/** Product of the dimensions between the batch and `axis` (the outer dimension at one image). */
const outerAtOneImage = (shape: readonly number[], axis: number) =>
  axis >= 1 ? product(shape.slice(1, axis)) : Infinity;

/**
 * A Slice or Split that is a view of its input for one image (tpu::SliceOp::parseParam's
 * `fusible`: one axis cut, step 1, the dimensions before it 1; ONNX Split becomes such Slices).
 * Steps given as an initializer are not read: a Slice that cuts one axis is taken as step 1
 * (a strided slice, as YOLOX's Focus, cuts two).
 */
function slicesInPlace(node: GraphNodeInfo, input: readonly number[]) {
  if (node.opType !== 'Slice' && node.opType !== 'Split') return false;
  return node.outputs.every((o) => {
    const out = o.shape ?? [];
    if (out.length !== input.length) return false;
    const cut = input.flatMap((d, axis) => (d === out[axis] ? [] : [axis]));
    return cut.length === 1 && outerAtOneImage(input, cut[0] ?? 0) === 1;
  });
}

/** What decides whether a Concat's producers can write straight into its buffer. */
interface MergeState {
  readonly uses: ReadonlyMap<string, number>;
  /** Tensor -> the node that computes it. */
  readonly producer: ReadonlyMap<string, GraphNodeInfo>;
  /** Slices already found in place (a Concat of one does not merge). */
  readonly inPlaceSlices: Set<string>;
  /** Tensors that already feed an in-place Concat (only one Concat may take a shared tensor). */
  readonly merged: Set<string>;
}

/**
 * tpu-mlir's ConcatFusePattern (lib/Dialect/Tpu/Transforms/AddressAssign.cpp; the
 * same test is tpu::ConcatOp::SupportInplace): no relu, nothing but the image before the axis,
 * no weight input, no input twice, at most two inputs read elsewhere and none of them already
 * merged into another Concat, no input made by a Concat or an in-place Slice, a Reshape only as
 * the first input. (BM1684's INT8 4N layout is excluded by the cost model, which knows the chip.)
 */
function concatInPlace(
  node: GraphNodeInfo,
  out: readonly number[],
  data: GraphNodeInfo['inputs'],
  state: MergeState,
) {
  const axis = Number(node.attributes?.['axis'] ?? 0);
  if (outerAtOneImage(out, axis < 0 ? axis + out.length : axis) !== 1) return false;
  if (data.length !== node.inputs.length) return false;
  const names = data.map((i) => i.name);
  if (new Set(names).size !== names.length) return false;
  const shared = names.filter((n) => (state.uses.get(n) ?? 0) > 1);
  if (shared.length > 2 || shared.some((n) => state.merged.has(n))) return false;
  const fits = names.every((name, index) => {
    const from = state.producer.get(name);
    if (from === undefined) return true;
    if (from.opType === 'Concat' || state.inPlaceSlices.has(name)) return false;
    if (!FREE.has(from.opType)) return true;
    const viewed = from.inputs[0]?.name ?? '';
    return index === 0 && state.producer.has(viewed) && (state.uses.get(viewed) ?? 0) === 1;
  });
  if (fits) for (const n of names) state.merged.add(n);
  return fits;
}

function firstOutputShape(node: GraphNodeInfo): readonly number[] {
  const out = node.outputs[0];
  if (out === undefined) {
    throw bmfError('BMF_ERR_MODEL_UNSUPPORTED', { reason: `node ${node.name} has no output` });
  }
  return shapeOf(node, `output ${out.name}`, out.shape);
}

function inputShape(node: GraphNodeInfo, index: number): readonly number[] {
  const input = node.inputs[index];
  if (input === undefined) {
    throw bmfError('BMF_ERR_MODEL_UNSUPPORTED', {
      reason: `${node.opType} node ${node.name} lacks input ${index}`,
    });
  }
  return shapeOf(node, `input ${input.name}`, input.shape);
}

function kernelArea(node: GraphNodeInfo): number {
  const k = node.attributes?.['kernel_shape'];
  return Array.isArray(k) ? product(k.map(Number)) : 1;
}

/** Multiply-accumulates of the whole node (all images of its batch). */
function matrixMacs(node: GraphNodeInfo, out: readonly number[]): number {
  switch (node.opType) {
    case 'Conv': {
      // weight [Cout, Cin/group, kh, kw]: each output element sums Cin/group * kh * kw products.
      const w = inputShape(node, 1);
      return product(out) * product(w.slice(1));
    }
    case 'ConvTranspose': {
      // weight [Cin, Cout/group, kh, kw]: each input element scatters into Cout/group * kh * kw.
      const w = inputShape(node, 1);
      return product(inputShape(node, 0)) * product(w.slice(1));
    }
    case 'Gemm': {
      const a = inputShape(node, 0);
      const transA = node.attributes?.['transA'] === 1;
      const k = (transA ? a[0] : a[1]) ?? 1;
      return product(out) * k;
    }
    default: {
      // MatMul: the reduced dimension is A's last.
      const a = inputShape(node, 0);
      return product(out) * (a[a.length - 1] ?? 1);
    }
  }
}

/** Input channels, output channels and groups of a conv/matmul node (NCHW; [.., K] x [K, N]). */
function matrixChannels(node: GraphNodeInfo, out: readonly number[]) {
  if (node.opType === 'Conv' || node.opType === 'ConvTranspose') {
    const group = Number(node.attributes?.['group'] ?? 1);
    const groups = Number.isInteger(group) && group >= 1 ? group : 1;
    return { in: inputShape(node, 0)[1] ?? 1, out: out[1] ?? 1, groups };
  }
  const a = inputShape(node, 0);
  const transA = node.opType === 'Gemm' && node.attributes?.['transA'] === 1;
  const k = (transA ? a[0] : a[a.length - 1]) ?? 1;
  return { in: k, out: out[out.length - 1] ?? 1, groups: 1 };
}

function classify(opType: string): CostLayerKind {
  const cost = OPERATORS[opType]?.cost;
  return cost === 'conv' || cost === 'matmul' || cost === 'pool' || cost === 'elementwise'
    ? cost
    : 'other';
}

function vectorOps(node: GraphNodeInfo, kind: CostLayerKind, outElems: number, inElems: number) {
  if (kind === 'pool') {
    return node.opType.startsWith('Global') ? inElems : outElems * kernelArea(node);
  }
  // Softmax and similar reductions: a handful of passes over the data; data movement (Concat,
  // Transpose, Resize, ...) is costed by its bytes, one operation per element.
  if (node.opType === 'Softmax' || node.opType === 'LogSoftmax') return 5 * outElems;
  // A TopK compares every element along its axis, however few it keeps.
  if (node.opType === 'TopK') return Math.max(inElems, outElems);
  return outElems;
}

export function layersFromGraph(nodes: readonly GraphNodeInfo[]): CostLayer[] {
  const layers: Mutable<CostLayer>[] = [];
  // Tensors produced by a conv/matmul layer (directly or through fused nodes) -> that layer.
  const matrixOutputs = new Map<string, { layer: Mutable<CostLayer>; hasBias: boolean }>();
  // Tensors produced by a standalone elementwise layer (directly or through a fused activation).
  const eltwiseOutputs = new Map<string, Mutable<CostLayer>>();

  // Outputs of Constant nodes act as initializers (opset 13 Clip takes min/max as inputs).
  const constants = new Set<string>();

  // Shape arithmetic (Shape -> Gather/Slice/Concat/... -> a Resize's sizes): the vendor
  // compilers fold it at compile time for static shapes, so it is no device work.
  const shapeValues = new Set<string>();

  // Tensor -> index of the layer that computes it (through fused nodes and views).
  const layerOf = new Map<string, number>();
  const alias = (node: GraphNodeInfo, from: string | undefined) => {
    const index = from === undefined ? undefined : layerOf.get(from);
    if (index !== undefined) for (const o of node.outputs) layerOf.set(o.name, index);
  };

  const merge: MergeState = {
    uses: countUses(nodes),
    producer: new Map(nodes.flatMap((n) => n.outputs.map((o) => [o.name, n] as const))),
    inPlaceSlices: new Set<string>(),
    merged: new Set<string>(),
  };

  for (const node of nodes) {
    if (node.opType === 'Constant') for (const o of node.outputs) constants.add(o.name);
    if (node.opType === 'Shape') for (const o of node.outputs) shapeValues.add(o.name);
    if (FREE.has(node.opType)) {
      // A view (Reshape, Flatten...) is the tensor it reads; a view of a shape value (the
      // Unsqueeze before a Reshape's size Concat) is still a shape value.
      if (shapeValues.has(node.inputs[0]?.name ?? '')) {
        for (const o of node.outputs) shapeValues.add(o.name);
      }
      alias(node, node.inputs[0]?.name);
      continue;
    }
    // An empty name is an omitted optional input (onnx.proto).
    const present = node.inputs.filter((i) => i.name !== '');
    const params = present.filter((i) => i.isInitializer || constants.has(i.name));
    const dataInputs = present.filter((i) => !params.includes(i));
    if (dataInputs.length > 0 && dataInputs.every((i) => shapeValues.has(i.name))) {
      for (const o of node.outputs) shapeValues.add(o.name);
      continue;
    }
    const producers = new Set(dataInputs.map((i) => matrixOutputs.get(i.name)));
    const [producer] = producers;
    // A ReLU-family activation right after a standalone elementwise layer (a residual Add, then
    // Relu) runs in that layer: tpu-mlir's Add/Mul ops take `do_relu` like its conv ops do.
    const eltwise =
      dataInputs.length === 1 ? eltwiseOutputs.get(dataInputs[0]?.name ?? '') : undefined;
    if (eltwise !== undefined && RELU_FAMILY.has(node.opType)) {
      for (const o of node.outputs) eltwiseOutputs.set(o.name, eltwise);
      alias(node, dataInputs[0]?.name);
      continue;
    }
    if (ELEMENTWISE.has(node.opType) && producers.size === 1 && producer !== undefined) {
      // Folding BN into a bias-less conv gives it a bias: one value per output channel.
      if (node.opType === 'BatchNormalization' && !producer.hasBias) {
        producer.layer.weightElems += product(inputShape(node, 1));
        producer.hasBias = true;
      }
      if (!PIPELINE_FREE.has(node.opType)) {
        // Runs on the vector lanes after the conv (a second pass over its output).
        const elems = product(firstOutputShape(node));
        const batch = firstOutputShape(node)[0] || 1;
        producer.layer.fusedVectorElems = (producer.layer.fusedVectorElems ?? 0) + elems / batch;
        producer.layer.fusedVectorOps =
          (producer.layer.fusedVectorOps ?? 0) +
          ((EU_OPS_PER_ELEMENT[node.opType] ?? 1) * elems) / batch;
      }
      for (const o of node.outputs) matrixOutputs.set(o.name, producer);
      alias(node, dataInputs.find((i) => layerOf.has(i.name))?.name);
      continue;
    }
    const out = firstOutputShape(node);
    const batch = out[0] !== undefined && out[0] > 0 ? out[0] : 1;
    const kind = classify(node.opType);
    const outElems = node.outputs.reduce(
      (s, o) => s + product(shapeOf(node, `output ${o.name}`, o.shape)),
      0,
    );
    const elems = (inputs: typeof present) =>
      inputs.reduce((s, i) => s + product(shapeOf(node, `input ${i.name}`, i.shape)), 0);
    const inElems = elems(dataInputs);
    const weightElems = elems(params);
    const matrix = kind === 'conv' || kind === 'matmul';
    const macs = matrix ? matrixMacs(node, out) : vectorOps(node, kind, outElems, inElems);
    const inputs = [...new Set(dataInputs.flatMap((i) => layerOf.get(i.name) ?? []))].sort(
      (a, b) => a - b,
    );
    const kernel = node.attributes?.['kernel_shape'];
    let inPlace: 'slice' | 'concat' | undefined;
    if (kind === 'other' && slicesInPlace(node, inputShape(node, 0))) {
      inPlace = 'slice';
      for (const o of node.outputs) merge.inPlaceSlices.add(o.name);
    } else if (node.opType === 'Concat' && concatInPlace(node, out, dataInputs, merge)) {
      inPlace = 'concat';
    }
    const layer = {
      name: node.name,
      kind,
      macs: macs / batch,
      // Parameters are shared by the batch; activations are per image.
      weightElems,
      activationInElems: inElems / batch,
      activationOutElems: outElems / batch,
      ...(matrix ? { channels: matrixChannels(node, out) } : {}),
      inputs,
      rows: {
        out: out.length > 3 ? product(out.slice(2, -1)) : 1,
        kernel: Array.isArray(kernel) && kernel.length >= 2 ? Number(kernel.at(-2)) : 1,
      },
      ...(Array.isArray(kernel) ? { kernelShape: kernel.map(Number) } : {}),
      ...(kind === 'other' && runsInLayerGroup(node, inputShape(node, 0), out)
        ? { runsInLayerGroup: true as const }
        : {}),
      ...(inPlace === undefined ? {} : { inPlaceAtBatch1: inPlace }),
    };
    for (const o of node.outputs) layerOf.set(o.name, layers.length);
    layers.push(layer);
    if (matrix) {
      const entry = { layer, hasBias: params.length > 1 };
      for (const o of node.outputs) matrixOutputs.set(o.name, entry);
    } else if (kind === 'elementwise') {
      for (const o of node.outputs) eltwiseOutputs.set(o.name, layer);
    }
  }
  return layers;
}
