// Constants made initializers before the quantizer looks at a graph, as model_transform does when
// it imports an ONNX model. PyTorch exports often route weights through `Identity` nodes (shared
// or renamed parameters) and pass Clip bounds and shapes as `Constant` nodes. Left in place,
// a Conv whose weight comes out of an Identity has no constant weight to quantize (it stayed
// FP32 in the INT8 build) and the Identity/Constant outputs looked like activations to calibrate.
// Here a Constant node with a tensor `value` becomes an initializer of the same name, and an
// Identity of an initializer disappears, its consumers reading the initializer directly.
import type { OnnxModel, OnnxNode, OnnxTensor } from '../onnx/index.js';

/** The tensor of a Constant node's `value` attribute (other forms stay nodes). */
function constantValue(node: OnnxNode): OnnxTensor | undefined {
  return node.attribute?.find((x) => x.name === 'value')?.t;
}

export interface ConstFoldResult {
  readonly model: OnnxModel;
  /** Output names of the Constant and Identity nodes folded away. */
  readonly folded: readonly string[];
}

export function foldConstantNodes(model: OnnxModel): ConstFoldResult {
  const graph = model.graph;
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const initializers = [...(graph.initializer ?? [])];
  const constant = new Set(initializers.map((t) => t.name ?? ''));
  const rename = new Map<string, string>();
  const folded: string[] = [];
  const kept: OnnxNode[] = [];
  for (const node of graph.node ?? []) {
    const out = node.output?.[0] ?? '';
    const input = node.input?.[0] ?? '';
    const source = rename.get(input) ?? input;
    const value = node.opType === 'Constant' ? constantValue(node) : undefined;
    if (value && out && !outputs.has(out) && node.output?.length === 1) {
      initializers.push({ ...value, name: out });
      constant.add(out);
      folded.push(out);
    } else if (node.opType === 'Identity' && constant.has(source) && !outputs.has(out)) {
      rename.set(out, source);
      folded.push(out);
    } else {
      kept.push(node);
    }
  }
  if (folded.length === 0) return { model, folded };
  const node = kept.map((n) => ({ ...n, input: (n.input ?? []).map((x) => rename.get(x) ?? x) }));
  const dropped = new Set(rename.keys());
  return {
    model: {
      ...model,
      graph: {
        ...graph,
        node,
        initializer: initializers,
        valueInfo: (graph.valueInfo ?? []).filter((v) => !dropped.has(v.name ?? '')),
      },
    },
    folded,
  };
}
