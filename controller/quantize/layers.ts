// The quantization view of a graph: layers as the TPU sees them. A Conv/Gemm/MatMul followed by
// its only consumer Relu, or a Clip with lower bound 0 (ReLU6, which model_transform imports as
// a Relu with an upper limit), is one layer (the TPU fuses the activation into the conv, so the
// pre-activation tensor never exists in INT8 and gets no threshold). A layer is named by its
// output tensor, as tpu-mlir names ops; activation tensors are the float graph inputs and the
// layer outputs.
import {
  findInitializer,
  operatorsWhere,
  graphInputs,
  ONNX_DTYPE,
  readFloat32,
  type OnnxModel,
  type OnnxNode,
} from '../onnx/index.js';
import { consumerCounts } from './bn-fold.js';

/** Ops with INT8 kernels on the TPU that bmfleet's sim target emulates (the op registry). */
export const INT8_OPS = operatorsWhere((op) => op.int8 === true);

const WEIGHTED = operatorsWhere((op) => op.weighted === true);

export interface QuantLayer {
  /** The layer's output tensor name (its name in calibration and quantize tables). */
  readonly name: string;
  /** Indices of the ONNX nodes making up the layer (e.g. Conv then Relu). */
  readonly nodeIndices: readonly number[];
  readonly opType: string;
  /** Float activation inputs (not initializers). */
  readonly inputs: readonly string[];
  /** Weight initializer and its output-channel axis, for Conv/Gemm/MatMul with constant weights. */
  readonly weight?: { readonly name: string; readonly axis: number };
  readonly bias?: string;
  /** Whether the sim target can run this layer in INT8. */
  readonly int8Capable: boolean;
}

function intAttr(model: OnnxModel, nodeIndex: number, name: string, fallback: number): number {
  const a = model.graph.node?.[nodeIndex]?.attribute?.find((x) => x.name === name);
  return a?.i ?? fallback;
}

/** A Relu, or a Clip whose lower bound is 0 (opset >= 11: constant input; before: attribute). */
function isReluLike(model: OnnxModel, node: OnnxNode | undefined): boolean {
  if (node?.opType === 'Relu') return true;
  if (node?.opType !== 'Clip') return false;
  const minName = node.input?.[1];
  if (minName) {
    const t = findInitializer(model, minName);
    return t?.dataType === ONNX_DTYPE.FLOAT && readFloat32(t)[0] === 0;
  }
  return node.attribute?.find((a) => a.name === 'min')?.f === 0;
}

export function quantLayers(model: OnnxModel): QuantLayer[] {
  const nodes = model.graph.node ?? [];
  const uses = consumerCounts(model);
  const inits = new Set((model.graph.initializer ?? []).map((t) => t.name ?? ''));
  const consumerOf = new Map<string, number>();
  nodes.forEach((n, i) => (n.input ?? []).forEach((x) => consumerOf.set(x, i)));
  const fusedInto = new Set<number>();
  const layers: QuantLayer[] = [];
  for (const [i, node] of nodes.entries()) {
    if (fusedInto.has(i)) continue;
    const op = node.opType ?? '';
    const out = node.output?.[0] ?? '';
    const indices = [i];
    let name = out;
    let opType = op;
    if (WEIGHTED.has(op) && uses.get(out) === 1) {
      const next = consumerOf.get(out);
      if (next !== undefined && isReluLike(model, nodes[next])) {
        indices.push(next);
        fusedInto.add(next);
        name = nodes[next]!.output?.[0] ?? out;
        opType = `${op}+${nodes[next]!.opType}`;
      }
    }
    const inputs = (node.input ?? []).filter((x) => x !== '' && !inits.has(x));
    let weight: QuantLayer['weight'];
    let bias: string | undefined;
    const wName = node.input?.[1] ?? '';
    if (
      WEIGHTED.has(op) &&
      inits.has(wName) &&
      findInitializer(model, wName)?.dataType === ONNX_DTYPE.FLOAT
    ) {
      // Output channels: Conv [O,I,kh,kw] axis 0; Gemm B is [N,K] with transB=1, else [K,N]; MatMul [K,N].
      const axis =
        op === 'Conv' ? 0 : op === 'Gemm' && intAttr(model, i, 'transB', 0) === 1 ? 0 : 1;
      weight = { name: wName, axis };
      const b = node.input?.[2];
      if (b && inits.has(b)) bias = b;
    }
    const int8Capable =
      INT8_OPS.has(op) &&
      (!WEIGHTED.has(op) || weight !== undefined) &&
      (op !== 'Gemm' || intAttr(model, i, 'transA', 0) === 0);
    layers.push({
      name,
      nodeIndices: indices,
      opType,
      inputs: inputs.filter((x) => !(WEIGHTED.has(op) && x === wName)),
      ...(weight ? { weight } : {}),
      ...(bias ? { bias } : {}),
      int8Capable,
    });
  }
  return layers;
}

/** Float graph inputs plus every layer output: the tensors calibration measures. */
export function activationCandidates(model: OnnxModel, layers: readonly QuantLayer[]): string[] {
  const inputs = graphInputs(model)
    .filter((io) => io.elemType === ONNX_DTYPE.FLOAT)
    .map((io) => io.name);
  return [...inputs, ...layers.map((l) => l.name)];
}
