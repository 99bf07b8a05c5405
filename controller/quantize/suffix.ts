// The part of an INT8 candidate graph that a threshold change can reach. Two graphs from
// buildInt8Graph with the same precisions have the same nodes and differ only in initializer
// values (a tensor's activation scale, its consumers' int32 biases). Every node upstream of those
// initializers computes the same values in both graphs, so a candidate is scored by running only
// the suffix: the nodes reading a changed initializer, everything downstream of them, and what
// they need back to the nearest stored int8 tensor.
//
// Why the cut is at int8 tensors (QuantizeLinear outputs) and nowhere else: onnxruntime fuses
// DequantizeLinear -> op -> QuantizeLinear into one integer kernel (QLinearConv and the like),
// whose float intermediate never exists. Cutting at an int8 tensor keeps every such pattern
// whole on both sides of the cut, so the suffix runs the very kernels the full graph runs; this
// is also where the chip itself stores activations between layers.
import { dtypeBytes, type Tensor } from '../../shared/tensor.js';
import { ONNX_DTYPE, valueInfo, type OnnxModel, type OnnxTensor } from '../onnx/index.js';

export interface Suffix {
  /** Indices into the graph's node list, ascending (the graph's topological order). */
  readonly nodes: readonly number[];
  /** Tensors the suffix reads that nodes before it produce: graph inputs or int8 tensors. */
  readonly boundary: readonly string[];
  /** Int8 tensors the suffix produces (what a later cut may start from). */
  readonly stored: readonly string[];
}

function sameTensor(a: OnnxTensor, b: OnnxTensor): boolean {
  if (a === b) return true;
  if (a.dataType !== b.dataType || (a.dims ?? []).join(',') !== (b.dims ?? []).join(','))
    return false;
  const bytes = (t: OnnxTensor): Uint8Array | undefined => t.rawData;
  const ra = bytes(a);
  const rb = bytes(b);
  if (ra && rb) return ra.length === rb.length && ra.every((v, i) => v === rb[i]);
  return (
    JSON.stringify({ ...a, rawData: undefined }) === JSON.stringify({ ...b, rawData: undefined })
  );
}

/** Same node list (op, inputs, outputs) in the same order: only then is a suffix meaningful. */
function sameStructure(a: OnnxModel, b: OnnxModel): boolean {
  const na = a.graph.node ?? [];
  const nb = b.graph.node ?? [];
  if (na.length !== nb.length) return false;
  return na.every((n, i) => {
    const m = nb[i]!;
    return (
      n.opType === m.opType &&
      (n.input ?? []).join('\0') === (m.input ?? []).join('\0') &&
      (n.output ?? []).join('\0') === (m.output ?? []).join('\0')
    );
  });
}

/** The suffix of `candidate` that differs from `base` (all of it when their structure differs). */
export function changedSuffix(base: OnnxModel, candidate: OnnxModel): Suffix {
  const nodes = candidate.graph.node ?? [];
  const baseInits = new Map((base.graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const inits = new Set((candidate.graph.initializer ?? []).map((t) => t.name ?? ''));
  const changed = new Set(
    (candidate.graph.initializer ?? [])
      .filter((t) => {
        const old = baseInits.get(t.name ?? '');
        return !old || !sameTensor(old, t);
      })
      .map((t) => t.name ?? ''),
  );
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  for (const [i, n] of nodes.entries()) {
    for (const o of n.output ?? []) producer.set(o, i);
    for (const x of n.input ?? []) consumers.set(x, [...(consumers.get(x) ?? []), i]);
  }
  const inSuffix = new Set<number>();
  const whole = !sameStructure(base, candidate);
  const work: number[] = [];
  const add = (i: number): void => {
    if (!inSuffix.has(i)) {
      inSuffix.add(i);
      work.push(i);
    }
  };
  for (const [i, n] of nodes.entries()) {
    if (whole || (n.input ?? []).some((x) => changed.has(x))) add(i);
  }
  // Closed downstream (everything fed by a changed value) and upstream back to stored int8
  // tensors or graph inputs (a fused pattern is never cut).
  while (work.length > 0) {
    const i = work.pop()!;
    for (const o of nodes[i]!.output ?? []) for (const c of consumers.get(o) ?? []) add(c);
    for (const x of nodes[i]!.input ?? []) {
      const p = producer.get(x);
      if (p !== undefined && nodes[p]!.opType !== 'QuantizeLinear') add(p);
    }
  }
  const order = [...inSuffix].sort((a, b) => a - b);
  const produced = new Set(order.flatMap((i) => nodes[i]!.output ?? []));
  const boundary = new Set<string>();
  for (const i of order) {
    for (const x of nodes[i]!.input ?? []) {
      if (x !== '' && !produced.has(x) && !inits.has(x)) boundary.add(x);
    }
  }
  return {
    nodes: order,
    boundary: [...boundary],
    stored: order
      .filter((i) => nodes[i]!.opType === 'QuantizeLinear')
      .flatMap((i) => nodes[i]!.output ?? []),
  };
}

const ONNX_TYPE_OF: Readonly<Record<string, number>> = {
  float32: ONNX_DTYPE.FLOAT,
  int8: ONNX_DTYPE.INT8,
  uint8: ONNX_DTYPE.UINT8,
  int32: ONNX_DTYPE.INT32,
  int64: ONNX_DTYPE.INT64,
  float16: ONNX_DTYPE.FLOAT16,
};

/**
 * The suffix as a model of its own: its boundary tensors become graph inputs (typed from the
 * example values), its outputs are the graph outputs it computes plus the named extra tensors.
 */
export function suffixModel(
  model: OnnxModel,
  suffix: Suffix,
  examples: ReadonlyMap<string, Pick<Tensor, 'dtype' | 'shape'>>,
  extraOutputs: readonly string[],
): OnnxModel {
  const nodes = model.graph.node ?? [];
  const kept = suffix.nodes.map((i) => nodes[i]!);
  const produced = new Set(kept.flatMap((n) => n.output ?? []));
  const read = new Set(kept.flatMap((n) => n.input ?? []));
  const outputs = (model.graph.output ?? []).filter((o) => produced.has(o.name ?? ''));
  const named = new Set(outputs.map((o) => o.name ?? ''));
  for (const t of extraOutputs) {
    if (!named.has(t) && produced.has(t)) {
      named.add(t);
      outputs.push({ name: t });
    }
  }
  return {
    ...model,
    graph: {
      ...model.graph,
      node: kept,
      initializer: (model.graph.initializer ?? []).filter((t) => read.has(t.name ?? '')),
      input: suffix.boundary.map((b) => {
        const x = examples.get(b)!;
        return valueInfo(b, ONNX_TYPE_OF[x.dtype], x.shape);
      }),
      output: outputs,
      valueInfo: (model.graph.valueInfo ?? []).filter((v) => produced.has(v.name ?? '')),
    },
  };
}

/** Bytes of stored values one image needs kept (for the cache's size). */
export function tensorBytes(t: Tensor): number {
  return t.data.length * dtypeBytes[t.dtype];
}
