// Graph edits used by the compiler (precision emulation) and the quantizer (exposing activations,
// inserting quantize/dequantize pairs). Each returns a new model; the input is never mutated.
// Unchanged tensors are shared, not copied, so edits on large models stay cheap.
import { bmfError } from '../../shared/errors.js';
import type { OnnxAttribute, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo } from './types.js';
import { ONNX_ATTR, ONNX_DTYPE } from './types.js';

export interface GraphEdit {
  /** Appended after the existing nodes (ONNX requires topological order; append consumers last). */
  readonly addNodes?: readonly OnnxNode[];
  readonly addInitializers?: readonly OnnxTensor[];
  /** Initializers replaced by name (the name must exist). */
  readonly replaceInitializers?: readonly OnnxTensor[];
  readonly addOutputs?: readonly OnnxValueInfo[];
  /** Replaces the graph outputs entirely (before addOutputs is applied). */
  readonly setOutputs?: readonly OnnxValueInfo[];
}

export function editGraph(model: OnnxModel, edit: GraphEdit): OnnxModel {
  const graph = model.graph;
  let initializer = [...(graph.initializer ?? [])];
  if (edit.replaceInitializers?.length) {
    const byName = new Map(edit.replaceInitializers.map((t) => [t.name, t]));
    const found = new Set<string>();
    initializer = initializer.map((t) => {
      const r = byName.get(t.name);
      if (!r) return t;
      found.add(t.name ?? '');
      return r;
    });
    const missing = [...byName.keys()].filter((n) => !found.has(n ?? ''));
    if (missing.length) {
      throw bmfError('BMF_ERR_MODEL_UNSUPPORTED', {
        reason: `no initializer named ${missing.join(', ')}`,
      });
    }
  }
  initializer.push(...(edit.addInitializers ?? []));
  const output = [...(edit.setOutputs ?? graph.output ?? []), ...(edit.addOutputs ?? [])];
  return {
    ...model,
    graph: {
      ...graph,
      node: [...(graph.node ?? []), ...(edit.addNodes ?? [])],
      initializer,
      output,
    },
  };
}

export const addNode = (m: OnnxModel, node: OnnxNode): OnnxModel =>
  editGraph(m, { addNodes: [node] });
export const addInitializer = (m: OnnxModel, t: OnnxTensor): OnnxModel =>
  editGraph(m, { addInitializers: [t] });
export const addGraphOutput = (m: OnnxModel, v: OnnxValueInfo): OnnxModel =>
  editGraph(m, { addOutputs: [v] });
export const replaceInitializer = (m: OnnxModel, t: OnnxTensor): OnnxModel =>
  editGraph(m, { replaceInitializers: [t] });

/** A ValueInfo for a tensor; dims omitted means "shape unknown" (onnxruntime infers it). */
export function valueInfo(
  name: string,
  elemType: number = ONNX_DTYPE.FLOAT,
  dims?: readonly (number | string)[],
): OnnxValueInfo {
  const tensorType: {
    elemType: number;
    shape?: { dim: { dimValue?: number; dimParam?: string }[] };
  } = { elemType };
  if (dims) {
    tensorType.shape = {
      dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
    };
  }
  return { name, type: { tensorType } };
}

export type AttributeValue = number | string | readonly number[] | OnnxTensor;

/** Attributes from a plain record: integers -> INT, other numbers -> FLOAT, arrays -> INTS or FLOATS. */
export function attribute(name: string, value: AttributeValue, asFloat = false): OnnxAttribute {
  if (typeof value === 'string') {
    return { name, type: ONNX_ATTR.STRING, s: new TextEncoder().encode(value) };
  }
  if (typeof value === 'number') {
    return asFloat || !Number.isInteger(value)
      ? { name, type: ONNX_ATTR.FLOAT, f: value }
      : { name, type: ONNX_ATTR.INT, i: value };
  }
  if (Array.isArray(value)) {
    const arr = value as readonly number[];
    return asFloat || arr.some((v) => !Number.isInteger(v))
      ? { name, type: ONNX_ATTR.FLOATS, floats: [...arr] }
      : { name, type: ONNX_ATTR.INTS, ints: [...arr] };
  }
  return { name, type: ONNX_ATTR.TENSOR, t: value as OnnxTensor };
}

export function makeNode(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attrs: Readonly<Record<string, AttributeValue>> = {},
  name = outputs[0] ?? opType,
): OnnxNode {
  return {
    name,
    opType,
    input: [...inputs],
    output: [...outputs],
    attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
  };
}

export interface ModelSpec {
  readonly name: string;
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  readonly nodes: readonly OnnxNode[];
  readonly initializers?: readonly OnnxTensor[];
  readonly opset?: number;
}

/** A complete model (IR version 8, default-domain opset 13 unless told). */
export function makeModel(spec: ModelSpec): OnnxModel {
  return {
    irVersion: 8,
    producerName: 'bmfleet',
    opsetImport: [{ domain: '', version: spec.opset ?? 13 }],
    graph: {
      name: spec.name,
      input: [...spec.inputs],
      output: [...spec.outputs],
      node: [...spec.nodes],
      initializer: [...(spec.initializers ?? [])],
    },
  };
}

/** Attribute value by name, decoded to a plain JS value (undefined when absent). */
export function attributeValue(a: OnnxAttribute): number | string | number[] | undefined {
  switch (a.type) {
    case ONNX_ATTR.FLOAT:
      return a.f ?? 0;
    case ONNX_ATTR.INT:
      return a.i ?? 0;
    case ONNX_ATTR.STRING:
      return new TextDecoder().decode(a.s ?? new Uint8Array());
    case ONNX_ATTR.FLOATS:
      return [...(a.floats ?? [])];
    case ONNX_ATTR.INTS:
      return [...(a.ints ?? [])];
    default:
      return undefined;
  }
}
