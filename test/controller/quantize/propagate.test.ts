// Threshold propagation as tpu-mlir lowers calibrated thresholds (BackwardCalibration, then
// ForwardCalibration): which tensor's statistics each activation ends up with.
import t from 'tap';
import type { QuantLayer } from '../../../controller/quantize/layers.js';
import { calibratedTensors, thresholdSources } from '../../../controller/quantize/propagate.js';

/** [output, opType, ...inputs] -> layers; uses counted from the inputs plus graph outputs. */
function graph(rows: readonly (readonly string[])[], outputs: readonly string[]) {
  const layers: QuantLayer[] = rows.map(([name, opType, ...inputs], k) => ({
    name: name!,
    opType: opType!,
    inputs,
    nodeIndices: [k],
    int8Capable: true,
  }));
  const uses = new Map<string, number>();
  for (const l of layers) for (const i of l.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
  for (const o of outputs) uses.set(o, (uses.get(o) ?? 0) + 1);
  return { layers, activations: ['x', ...layers.map((l) => l.name)], uses };
}

const cases: {
  name: string;
  rows: string[][];
  outputs: string[];
  want: Record<string, string>;
}[] = [
  {
    name: 'Conv+Relu -> MaxPool -> Flatten -> Gemm: one threshold from the Flatten output',
    rows: [
      ['r', 'Conv+Relu', 'x'],
      ['p', 'MaxPool', 'r'],
      ['f', 'Flatten', 'p'],
      ['y', 'Gemm', 'f'],
    ],
    outputs: ['y'],
    want: { x: 'x', r: 'f', p: 'f', f: 'f', y: 'y' },
  },
  {
    name: 'an input with two uses keeps its own threshold; the MaxPool output takes it',
    rows: [
      ['r', 'Conv+Relu', 'x'],
      ['p', 'MaxPool', 'r'],
      ['q', 'Conv', 'r'],
      ['y', 'Add', 'p', 'q'],
    ],
    outputs: ['y'],
    want: { x: 'x', r: 'r', p: 'r', q: 'q', y: 'y' },
  },
  {
    name: 'a graph output is a use: no backward step from its consumer',
    rows: [
      ['r', 'Conv+Relu', 'x'],
      ['p', 'MaxPool', 'r'],
    ],
    outputs: ['r', 'p'],
    want: { x: 'x', r: 'r', p: 'r' },
  },
  {
    name: 'forward-only ops (Transpose) pass the input threshold on, never back',
    rows: [
      ['c', 'Conv', 'x'],
      ['t', 'Transpose', 'c'],
      ['y', 'Gemm', 't'],
    ],
    outputs: ['y'],
    want: { x: 'x', c: 'c', t: 'c', y: 'y' },
  },
  {
    name: 'a standalone Relu after an Add gives the Add its threshold',
    rows: [
      ['a', 'Add', 'x', 'x'],
      ['r', 'Relu', 'a'],
      ['y', 'Gemm', 'r'],
    ],
    outputs: ['y'],
    want: { x: 'x', a: 'r', r: 'r', y: 'y' },
  },
  {
    name: 'ops that change the scale (Concat, AveragePool) stop propagation',
    rows: [
      ['c', 'Conv', 'x'],
      ['v', 'AveragePool', 'c'],
      ['k', 'Concat', 'v', 'x'],
    ],
    outputs: ['k'],
    want: { x: 'x', c: 'c', v: 'v', k: 'k' },
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const g = graph(c.rows, c.outputs);
    const sources = thresholdSources(g.layers, g.activations, g.uses);
    t.same(Object.fromEntries(sources), c.want);
    const measured = calibratedTensors(sources);
    t.same(
      measured,
      g.activations.filter((a) => Object.values(c.want).includes(a)),
      'measured tensors are the distinct sources, in graph order',
    );
  });
}
