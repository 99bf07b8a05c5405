// Every operator the registry lists runs on the simulator (onnxruntime, as the sim runtime and
// the compile path's checks use it): one small graph per op from operator-cases.json, run with
// a real input. An op added to the registry without a case, or a case whose graph the simulator
// cannot run, fails here.
import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  encodeOnnx,
  float32Tensor,
  int64Tensor,
  makeModel,
  makeNode,
  ONNX_DTYPE,
  OPERATORS,
  runOnnx,
  uint8Tensor,
  valueInfo,
  type AttributeValue,
} from '../../../controller/onnx/index.js';
import { fixturesDir } from './fixture-model.js';

interface OperatorCase {
  readonly op: string;
  readonly opset: number;
  readonly output: 'float' | 'int64' | 'uint8';
  readonly nodes: readonly {
    op: string;
    inputs: string[];
    outputs: string[];
    attrs: Record<string, AttributeValue>;
  }[];
  readonly initializers?: readonly {
    name: string;
    dtype: 'float32' | 'int64' | 'uint8';
    dims: number[];
    data: number[];
  }[];
}

const { cases } = JSON.parse(readFileSync(new URL('operator-cases.json', fixturesDir), 'utf8')) as {
  cases: OperatorCase[];
};

const ELEM = {
  float: ONNX_DTYPE.FLOAT,
  int64: ONNX_DTYPE.INT64,
  bool: ONNX_DTYPE.BOOL,
  uint8: ONNX_DTYPE.UINT8,
};
const X_SHAPE = [1, 2, 4, 4];

function modelOf(c: OperatorCase): Uint8Array {
  return encodeOnnx(
    makeModel({
      name: `op_${c.op}`,
      opset: c.opset,
      inputs: [valueInfo('x', ONNX_DTYPE.FLOAT, X_SHAPE)],
      outputs: [valueInfo('y', ELEM[c.output])],
      initializers: (c.initializers ?? []).map((i) =>
        i.dtype === 'float32'
          ? float32Tensor(i.name, i.dims, Float32Array.from(i.data))
          : i.dtype === 'int64'
            ? int64Tensor(i.name, i.dims, i.data)
            : uint8Tensor(i.name, i.dims, Uint8Array.from(i.data)),
      ),
      nodes: c.nodes.map((n) => makeNode(n.op, n.inputs, n.outputs, n.attrs)),
    }),
  );
}

t.test('every registry op has a case, and every case is of a registry op', async (t) => {
  const covered = new Set(cases.map((c) => c.op));
  t.same(
    Object.keys(OPERATORS).filter((op) => !covered.has(op)),
    [],
    'registry ops without a case',
  );
  t.same(
    cases
      .filter((c) => !(c.op in OPERATORS) || !c.nodes.some((n) => n.op === c.op))
      .map((c) => c.op),
    [],
    'cases of ops outside the registry, or whose graph lacks the op',
  );
});

t.test('the simulator runs every registry op', async (t) => {
  const x = {
    dtype: 'float32' as const,
    shape: X_SHAPE,
    data: Float32Array.from({ length: 32 }, (_, i) => (i - 16) / 8),
  };
  for (const c of cases) {
    const out = await runOnnx(modelOf(c), { x }).catch((e: unknown) => e as Error);
    if (out instanceof Error) t.fail(`${c.op}: ${out.message}`);
    else
      t.ok(
        out.y && out.y.data.length > 0,
        `${c.op}: ran, output y of shape [${out.y?.shape.join(', ')}]`,
      );
  }
});
