// Builds an OnnxModel from a JSON model description in test/fixtures/onnx (tests as data).
import { readFileSync } from 'node:fs';
import { float32Tensor, makeModel, makeNode, valueInfo } from '../../../controller/onnx/index.js';
import type { AttributeValue, OnnxModel } from '../../../controller/onnx/index.js';

export interface ModelFixture {
  readonly name: string;
  readonly opset: number;
  readonly inputs: readonly { name: string; dims: (number | string)[] }[];
  readonly outputs: readonly { name: string; dims: (number | string)[] }[];
  readonly initializers: readonly { name: string; dims: number[]; data: number[] }[];
  readonly nodes: readonly {
    op: string;
    inputs: string[];
    outputs: string[];
    attrs: Record<string, AttributeValue>;
    domain?: string;
  }[];
  readonly expected: {
    input: number[];
    output: number[];
    shapes: Record<string, number[]>;
  };
}

export const fixturesDir = new URL('../../fixtures/onnx/', import.meta.url);

export function readModelFixture(file = 'conv-relu-gemm.json'): ModelFixture {
  return JSON.parse(readFileSync(new URL(file, fixturesDir), 'utf8')) as ModelFixture;
}

export function modelFromFixture(f: ModelFixture): OnnxModel {
  return makeModel({
    name: f.name,
    opset: f.opset,
    inputs: f.inputs.map((i) => valueInfo(i.name, 1, i.dims)),
    outputs: f.outputs.map((o) => valueInfo(o.name, 1, o.dims)),
    initializers: f.initializers.map((t) =>
      float32Tensor(t.name, t.dims, Float32Array.from(t.data)),
    ),
    nodes: f.nodes.map((n) => ({
      ...makeNode(n.op, n.inputs, n.outputs, n.attrs),
      ...(n.domain ? { domain: n.domain } : {}),
    })),
  });
}
