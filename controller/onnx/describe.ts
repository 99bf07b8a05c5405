// Per-node, shape-annotated view of a graph (the contract in docs/architecture.md), used by the
// cost model, calibration and reports. Shapes are not inferred by hand: every intermediate value
// is exposed as a graph output and the model runs once on zeros in onnxruntime with graph
// optimisation disabled, so each shape is the one the runtime really produced.
import { makeTensor } from '../../shared/tensor.js';
import type { Tensor } from '../../shared/tensor.js';
import { encodeOnnx } from './codec.js';
import { resolveInputShapes } from './check.js';
import { editGraph, attributeValue, valueInfo } from './edit.js';
import { graphInputs } from './io.js';
import { runOnnxShapes } from './run.js';
import type { OnnxSessionOptions } from './run.js';
import { tensorDims } from './tensors.js';
import type { OnnxModel } from './types.js';

export interface GraphNodeInfo {
  readonly name: string;
  readonly opType: string;
  readonly inputs: readonly { name: string; shape: number[]; isInitializer: boolean }[];
  /** elementType: onnxruntime's name for the produced type ('float32', 'int64', 'bool', ...). */
  readonly outputs: readonly { name: string; shape: number[]; elementType: string }[];
  readonly attributes: Readonly<Record<string, number | string | number[]>>;
}

/** Zero-filled feeds of the given shapes for the model's (float) inputs. */
export function zeroFeeds(
  model: OnnxModel,
  shapes: readonly (readonly number[])[],
): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  graphInputs(model).forEach((io, k) => {
    const shape = shapes[k] ?? [];
    feeds[io.name] = makeTensor(
      'float32',
      shape,
      new Float32Array(shape.reduce((a, b) => a * b, 1)),
    );
  });
  return feeds;
}

/** The model with every node output exposed as a graph output (order: existing outputs first). */
export function exposeAllValues(model: OnnxModel): OnnxModel {
  const existing = new Set((model.graph.output ?? []).map((o) => o.name));
  const extra = (model.graph.node ?? [])
    .flatMap((n) => n.output ?? [])
    .filter((name) => name !== '' && !existing.has(name))
    .map((name) => valueInfo(name, undefined));
  // Element type left unset: onnxruntime takes it from the producing node.
  for (const v of extra) delete v.type;
  return editGraph(model, { addOutputs: extra });
}

export async function describeGraph(
  model: OnnxModel,
  inputShapes?: readonly (readonly number[])[],
  options: OnnxSessionOptions = {},
): Promise<GraphNodeInfo[]> {
  const shapes = resolveInputShapes(model, inputShapes);
  const known = new Map<string, number[]>();
  const initializers = new Set<string>();
  for (const t of model.graph.initializer ?? []) {
    known.set(t.name ?? '', tensorDims(t));
    initializers.add(t.name ?? '');
  }
  graphInputs(model).forEach((io, k) => known.set(io.name, [...(shapes[k] ?? [])]));
  const produced = await runOnnxShapes(
    encodeOnnx(exposeAllValues(model)),
    zeroFeeds(model, shapes),
    {
      graphOptimizationLevel: 'disabled',
      ...options,
    },
  );
  const types = new Map<string, string>();
  for (const [name, v] of Object.entries(produced)) {
    known.set(name, v.dims);
    types.set(name, v.type);
  }
  const shapeOf = (name: string): number[] => [...(known.get(name) ?? [])];
  return (model.graph.node ?? []).map((node, index) => {
    const attributes: Record<string, number | string | number[]> = {};
    for (const a of node.attribute ?? []) {
      const v = attributeValue(a);
      if (v !== undefined && a.name) attributes[a.name] = v;
    }
    return {
      name: node.name || `${node.opType}_${index}`,
      opType: node.opType ?? '',
      inputs: (node.input ?? [])
        .filter((n) => n !== '')
        .map((n) => ({ name: n, shape: shapeOf(n), isInitializer: initializers.has(n) })),
      outputs: (node.output ?? [])
        .filter((n) => n !== '')
        .map((n) => ({ name: n, shape: shapeOf(n), elementType: types.get(n) ?? '' })),
      attributes,
    };
  });
}
