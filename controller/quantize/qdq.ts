// The INT8 model for the sim target: an ONNX graph in QDQ form that computes what the TPU INT8
// pipeline computes (docs/vendor.md section 1 conventions). Every activation read or written by an
// INT8 layer passes QuantizeLinear -> DequantizeLinear with scale threshold/128 and zero point 0
// (int8), weights are stored as int8 per output channel behind a per-channel DequantizeLinear,
// biases as int32 with scale s_in * s_w. onnxruntime then runs int8 semantics: rounding to the
// int8 grid, saturation, int8 weights and int32 bias (it may fuse the pattern into QLinearConv).
// Layers marked F32 keep float weights and do not quantize their own outputs (mixed precision);
// their inputs are still the INT8 tensors their producers store, as on the chip.
import { bmfError } from '../../shared/errors.js';
import {
  float32Tensor,
  findInitializer,
  int32Tensor,
  int8Tensor,
  makeNode,
  readFloat32,
  tensorDims,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
} from '../onnx/index.js';
import type { QuantLayer } from './layers.js';
import { activationScale, quantizeBias, quantizeWeightsPerChannel } from './quant-math.js';
import type { LayerPrecision } from './quantize-table.js';

export interface Int8GraphOptions {
  /** Symmetric threshold per activation tensor (from the calibration table). */
  readonly thresholds: ReadonlyMap<string, number>;
  /** Per-layer precision; layers absent here are INT8 when capable. */
  readonly precisions?: ReadonlyMap<string, LayerPrecision>;
}

export interface Int8Graph {
  readonly model: OnnxModel;
  /** Activation tensor -> the name of its (dequantized) INT8 value in the emitted graph. */
  readonly valueNames: ReadonlyMap<string, string>;
  /** Layer name -> precision actually used. */
  readonly precisions: ReadonlyMap<string, LayerPrecision>;
}

export function effectivePrecisions(
  layers: readonly QuantLayer[],
  thresholds: ReadonlyMap<string, number>,
  requested: ReadonlyMap<string, LayerPrecision> = new Map(),
): Map<string, LayerPrecision> {
  const out = new Map<string, LayerPrecision>();
  for (const l of layers) {
    const ok = l.int8Capable && thresholds.has(l.name) && l.inputs.every((i) => thresholds.has(i));
    out.set(l.name, ok && requested.get(l.name) !== 'F32' ? 'INT8' : 'F32');
  }
  return out;
}

export function buildInt8Graph(
  model: OnnxModel,
  layers: readonly QuantLayer[],
  options: Int8GraphOptions,
): Int8Graph {
  const { thresholds } = options;
  const precisions = effectivePrecisions(layers, thresholds, options.precisions);
  const nodes = model.graph.node ?? [];
  const graphOutputs = new Set((model.graph.output ?? []).map((o) => o.name ?? ''));
  // Tensors stored as INT8: outputs of INT8 layers and inputs of INT8 layers.
  const quantized = new Set<string>();
  for (const l of layers) {
    if (precisions.get(l.name) !== 'INT8') continue;
    quantized.add(l.name);
    for (const i of l.inputs) quantized.add(i);
  }
  const scaleOf = (t: string): number => {
    const th = thresholds.get(t);
    if (th === undefined)
      throw bmfError('BMF_ERR_CALIBRATION_TABLE', {
        line: 0,
        reason: `no threshold for tensor ${t}`,
      });
    return activationScale(th);
  };
  // Graph outputs keep their names: the producer writes `<name>_fp32` and the DequantizeLinear
  // writes the output itself. Other tensors are read through `<name>_dq`.
  const producedAs = (t: string): string =>
    quantized.has(t) && graphOutputs.has(t) ? `${t}_fp32` : t;
  const readAs = (t: string): string => (quantized.has(t) && !graphOutputs.has(t) ? `${t}_dq` : t);
  const valueNames = new Map<string, string>();
  const inits: OnnxTensor[] = [];
  const qdq = (t: string): OnnxNode[] => {
    inits.push(
      float32Tensor(`${t}_scale`, [], Float32Array.of(scaleOf(t))),
      int8Tensor(`${t}_zp`, [], new Int8Array(1)),
    );
    valueNames.set(t, readAs(t));
    return [
      makeNode(
        'QuantizeLinear',
        [producedAs(t), `${t}_scale`, `${t}_zp`],
        [`${t}_q`],
        {},
        `${t}/QuantizeLinear`,
      ),
      makeNode(
        'DequantizeLinear',
        [`${t}_q`, `${t}_scale`, `${t}_zp`],
        [readAs(t)],
        {},
        `${t}/DequantizeLinear`,
      ),
    ];
  };
  const layerOfNode = new Map<number, QuantLayer>();
  for (const l of layers) for (const i of l.nodeIndices) layerOfNode.set(i, l);
  const out: OnnxNode[] = [];
  for (const input of model.graph.input ?? [])
    if (quantized.has(input.name ?? '')) out.push(...qdq(input.name ?? ''));
  for (const [i, node] of nodes.entries()) {
    const layer = layerOfNode.get(i);
    let inputs = (node.input ?? []).map((x) => readAs(x));
    if (
      layer &&
      precisions.get(layer.name) === 'INT8' &&
      layer.weight &&
      i === layer.nodeIndices[0]
    ) {
      const { extraNodes, newInputs, tensors } = quantizeWeights(
        model,
        layer,
        scaleOf(layer.inputs[0]!),
      );
      out.push(...extraNodes);
      inits.push(...tensors);
      inputs = inputs.map((x, k) => newInputs[k] ?? x);
    }
    out.push({ ...node, input: inputs, output: (node.output ?? []).map(producedAs) });
    for (const o of node.output ?? []) if (quantized.has(o)) out.push(...qdq(o));
  }
  for (const t of thresholds.keys()) if (!valueNames.has(t)) valueNames.set(t, t);
  const referenced = new Set(out.flatMap((n) => n.input ?? []));
  const initializer = [...(model.graph.initializer ?? []), ...inits].filter((t) =>
    referenced.has(t.name ?? ''),
  );
  const opset = (model.opsetImport ?? []).map((o) =>
    (o.domain ?? '') === '' ? { ...o, version: Math.max(13, o.version ?? 13) } : o,
  );
  return {
    model: { ...model, opsetImport: opset, graph: { ...model.graph, node: out, initializer } },
    valueNames,
    precisions,
  };
}

interface LayerWeights {
  readonly dims: number[];
  readonly scales: Float32Array;
  readonly tensors: readonly OnnxTensor[];
  readonly bias?: Float32Array;
}

// A layer's INT8 weights do not depend on any activation threshold, only its int32 bias does (its
// scale is s_in * s_w). The threshold search builds a graph per candidate: quantizing ResNet-50's
// 25 M weights again for each took 3-4 s of the ~4.5 s a candidate cost. Kept per model object,
// so each candidate reuses the very same int8 tensors.
const weightCache = new WeakMap<OnnxModel, Map<string, LayerWeights>>();

function layerWeights(model: OnnxModel, layer: QuantLayer): LayerWeights {
  const perModel = weightCache.get(model) ?? new Map<string, LayerWeights>();
  weightCache.set(model, perModel);
  const hit = perModel.get(layer.name);
  if (hit) return hit;
  const w = findInitializer(model, layer.weight!.name)!;
  const dims = tensorDims(w);
  const axis = layer.weight!.axis;
  const q = quantizeWeightsPerChannel(readFloat32(w), dims, axis);
  const p = `${layer.name}_w`;
  const channels = dims[axis]!;
  const b = layer.bias ? findInitializer(model, layer.bias) : undefined;
  const entry: LayerWeights = {
    dims,
    scales: q.scales,
    tensors: [
      int8Tensor(`${p}_int8`, dims, q.data),
      float32Tensor(`${p}_scale`, [channels], q.scales),
      int8Tensor(`${p}_zp`, [channels], new Int8Array(channels)),
    ],
    ...(b && tensorDims(b).length === 1 && tensorDims(b)[0] === channels
      ? { bias: readFloat32(b) }
      : {}),
  };
  perModel.set(layer.name, entry);
  return entry;
}

function quantizeWeights(
  model: OnnxModel,
  layer: QuantLayer,
  inputScale: number,
): { extraNodes: OnnxNode[]; newInputs: Record<number, string>; tensors: OnnxTensor[] } {
  const { dims, scales, tensors: weightTensors, bias } = layerWeights(model, layer);
  const axis = layer.weight!.axis;
  const q = { scales };
  const p = `${layer.name}_w`;
  const channels = dims[axis]!;
  const tensors: OnnxTensor[] = [...weightTensors];
  const extraNodes = [
    makeNode(
      'DequantizeLinear',
      [`${p}_int8`, `${p}_scale`, `${p}_zp`],
      [`${p}_dq`],
      { axis },
      `${p}/DequantizeLinear`,
    ),
  ];
  const newInputs: Record<number, string> = { 1: `${p}_dq` };
  if (bias) {
    const b = quantizeBias(bias, inputScale, q.scales);
    const bp = `${layer.name}_b`;
    tensors.push(
      int32Tensor(`${bp}_int32`, [channels], b.data),
      float32Tensor(`${bp}_scale`, [channels], b.scales),
      int32Tensor(`${bp}_zp`, [channels], new Int32Array(channels)),
    );
    extraNodes.push(
      makeNode(
        'DequantizeLinear',
        [`${bp}_int32`, `${bp}_scale`, `${bp}_zp`],
        [`${bp}_dq`],
        { axis: 0 },
        `${bp}/DequantizeLinear`,
      ),
    );
    newInputs[2] = `${bp}_dq`;
  }
  return { extraNodes, newInputs, tensors };
}
