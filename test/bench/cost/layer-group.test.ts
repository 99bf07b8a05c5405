// The cost-fit benchmark's layer-group model: which layers share a launch, what crosses DDR, and
// a group's time as documented (docs/cost-model.md, "Layer groups").
import t from 'tap';
import {
  groupPlan,
  partition,
  type GroupCoefficients,
  type GroupStructure,
} from '../../../bench/cost/layer-group.js';
import { layersFromGraph, type CostLayer } from '../../../controller/compile/cost/index.js';
import { resnet50Graph } from '../../../harness/cost/resnet50.js';

const STRUCTURE: GroupStructure = {
  fp32Factor: false,
  perLayer: false,
  localMovement: false,
  mergeKernel: false,
  splitVector: false,
};
const K: GroupCoefficients = {
  matrix: 1,
  fp32: 1,
  vector: 1,
  activation: 1,
  groupUs: 10,
  layerUs: 0,
};

/** A 3x3 conv of 64 -> 64 channels on a rows x rows map, reading the layers `inputs`. */
const conv = (name: string, rows: number, inputs: number[], weightElems = 64 * 64 * 9) => {
  const elems = 64 * rows * rows;
  return {
    name,
    kind: 'conv',
    macs: elems * 64 * 9,
    weightElems,
    activationInElems: elems,
    activationOutElems: elems,
    channels: { in: 64, out: 64, groups: 1 },
    inputs,
    rows: { out: rows, kernel: 3 },
  } satisfies CostLayer;
};

t.test('a conv chain is one launch; a matmul runs on its own', async (t) => {
  const fc: CostLayer = {
    name: 'fc',
    kind: 'matmul',
    macs: 64 * 10,
    weightElems: 640,
    activationInElems: 64,
    activationOutElems: 10,
    channels: { in: 64, out: 10, groups: 1 },
    inputs: [2],
  };
  const layers = [conv('a', 16, []), conv('b', 16, [0]), conv('c', 16, [1]), fc];
  const plan = groupPlan(layers, 'bm1684x', 'fp16', 1, STRUCTURE);
  const { groups, ms } = partition(plan, K);
  t.same(
    groups.map((g) => [g.first, g.last]),
    [
      [0, 2],
      [3, 3],
    ],
  );
  // The group's DDR traffic: the network input and the chain's output (its middle tensors stay
  // in local memory) plus the three convs' weights, at 2 bytes (FP16).
  const elems = 64 * 16 * 16;
  const ddrMs = ((2 * elems + 3 * 64 * 64 * 9) * 2) / (64 * 1e6 * 0.85);
  const computeMs = (3 * 2 * elems * 64 * 9) / 16e9; // 64 channels: no padding at BM1684X FP16
  const first = groups[0]?.ms ?? 0;
  t.ok(
    Math.abs(first - (Math.max(computeMs, ddrMs) + 0.01)) < 1e-9,
    `group time ${first} ms = max(compute ${computeMs}, DDR ${ddrMs}) + 10 us`,
  );
  t.ok(Math.abs(ms - groups.reduce((s, g) => s + g.ms, 0)) < 1e-12, 'total = sum of groups');
});

t.test('an output lives until its last reader, a network output to the end', async (t) => {
  // a -> b -> c, and d reads a: a's output must be stored for d whatever the grouping.
  const layers = [conv('a', 16, []), conv('b', 16, [0]), conv('c', 16, [1]), conv('d', 16, [0])];
  const plan = groupPlan(layers, 'bm1684x', 'int8', 1, STRUCTURE);
  t.equal(plan.lastReader[0], 3, 'a is last read by d');
  t.equal(plan.lastReader[3], Infinity, 'd is a network output');
  const { groups } = partition(plan, { ...K, groupUs: 1e6 });
  t.same(
    groups.map((g) => [g.first, g.last]),
    [[0, 3]],
    'with a costly launch everything is one group',
  );
});

t.test('a group that does not fit local memory is sliced by rows, paying the halos', async (t) => {
  // 64 channels x 512 x 512 at FP32 = 64 MiB per tensor: more than BM1684X's 16 MiB.
  const big = [conv('a', 512, []), conv('b', 512, [0])];
  const plan = groupPlan(big, 'bm1684x', 'fp32', 1, STRUCTURE);
  const [group] = partition(plan, { ...K, groupUs: 1e6 }).groups;
  t.equal(group?.last, 1, 'one group');
  t.ok((group?.slices ?? 0) >= 8, `sliced in ${group?.slices} row bands`);
  const computeMs = (2 * 2 * 64 * 512 * 512 * 64 * 9) / 2e9;
  t.ok((group?.ms ?? 0) - 1000 > computeMs, 'the halo rows are computed again per band');
});

t.test('ResNet-50 runs as far fewer launches than layers', async (t) => {
  const layers = layersFromGraph(resnet50Graph(1));
  const plan = groupPlan(layers, 'bm1684x', 'int8', 1, STRUCTURE);
  const { groups } = partition(plan, K);
  t.ok(groups.length < layers.length / 4, `${groups.length} groups for ${layers.length} layers`);
  t.equal(groups[0]?.first, 0);
  t.equal(groups.at(-1)?.last, layers.length - 1, 'the groups cover every layer once');
  for (let i = 1; i < groups.length; i++) {
    t.equal(groups[i]?.first, (groups[i - 1]?.last ?? 0) + 1);
  }
});
