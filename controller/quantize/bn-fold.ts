// BatchNormalization folded into the preceding Conv before calibration, as the vendor toolchains
// do (the TPU never runs a separate BN after a conv): with k = gamma / sqrt(var + eps) per output
// channel, W' = W * k and b' = (b - mean) * k + beta. Folding first means calibration measures the
// tensors the INT8 model really produces and the folded weights are what gets quantized.
import {
  float32Tensor,
  findInitializer,
  readFloat32,
  tensorDims,
  type OnnxModel,
  type OnnxNode,
} from '../onnx/index.js';

function attrFloat(node: OnnxNode, name: string, fallback: number): number {
  const a = node.attribute?.find((x) => x.name === name);
  return a?.f ?? fallback;
}

/** Uses of each tensor name as a node input or graph output. */
export function consumerCounts(model: OnnxModel): Map<string, number> {
  const uses = new Map<string, number>();
  for (const n of model.graph.node ?? []) {
    for (const i of n.input ?? []) uses.set(i, (uses.get(i) ?? 0) + 1);
  }
  for (const o of model.graph.output ?? [])
    uses.set(o.name ?? '', (uses.get(o.name ?? '') ?? 0) + 1);
  return uses;
}

export interface FoldResult {
  readonly model: OnnxModel;
  /** Output names of the BatchNormalization nodes folded away. */
  readonly folded: readonly string[];
}

export function foldBatchNorm(model: OnnxModel): FoldResult {
  const nodes = model.graph.node ?? [];
  const uses = consumerCounts(model);
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => producer.set(o, i)));
  const replaced = new Map<number, OnnxNode>();
  const dropped = new Set<number>();
  const added = [];
  const folded: string[] = [];
  for (const [bi, bn] of nodes.entries()) {
    if (bn.opType !== 'BatchNormalization' || (bn.output ?? []).length !== 1) continue;
    const [x, gammaName, betaName, meanName, varName] = bn.input ?? [];
    const ci = producer.get(x ?? '');
    const conv = ci === undefined ? undefined : (replaced.get(ci) ?? nodes[ci]);
    if (ci === undefined || conv?.opType !== 'Conv' || uses.get(x ?? '') !== 1) continue;
    const params = [gammaName, betaName, meanName, varName].map((n) =>
      findInitializer(model, n ?? ''),
    );
    const w = findInitializer(model, conv.input?.[1] ?? '');
    const b = conv.input?.[2] ? findInitializer(model, conv.input[2]) : undefined;
    if (!w || params.some((p) => !p) || (conv.input?.[2] && !b)) continue;
    const [gamma, beta, mean, variance] = params.map((p) => readFloat32(p!)) as [
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const dims = tensorDims(w);
    const channels = dims[0]!;
    const per = dims.slice(1).reduce((a, c) => a * c, 1);
    const wData = readFloat32(w);
    const bData = b ? readFloat32(b) : new Float32Array(channels);
    const newW = new Float32Array(wData.length);
    const newB = new Float32Array(channels);
    for (let c = 0; c < channels; c++) {
      const k = gamma[c]! / Math.sqrt(variance[c]! + eps);
      for (let j = 0; j < per; j++) newW[c * per + j] = wData[c * per + j]! * k;
      newB[c] = (bData[c]! - mean[c]!) * k + beta[c]!;
    }
    const out = bn.output![0]!;
    const wName = `${out}_bnfold_weight`;
    const bName = `${out}_bnfold_bias`;
    added.push(float32Tensor(wName, dims, newW), float32Tensor(bName, [channels], newB));
    replaced.set(ci, { ...conv, input: [conv.input![0]!, wName, bName], output: [out] });
    dropped.add(bi);
    folded.push(out);
  }
  if (folded.length === 0) return { model, folded };
  const node = nodes.flatMap((n, i) => (dropped.has(i) ? [] : [replaced.get(i) ?? n]));
  const referenced = new Set(node.flatMap((n) => n.input ?? []));
  const initializer = [...(model.graph.initializer ?? []), ...added].filter((t) =>
    referenced.has(t.name ?? ''),
  );
  return { model: { ...model, graph: { ...model.graph, node, initializer } }, folded };
}
