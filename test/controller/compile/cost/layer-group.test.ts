// The cost-fit benchmark's layer-group model: which layers share a launch, what crosses DDR, and
// a group's time as documented (docs/cost-model.md, "Layer groups").
import t from 'tap';
import {
  groupPlan,
  partition,
  reducedChannels,
  type GroupCoefficients,
  type GroupStructure,
} from '../../../../controller/compile/cost/layer-group.js';
import { layersFromGraph, type CostLayer } from '../../../../controller/compile/cost/index.js';
import { resnet50Graph } from '../../../../harness/cost/resnet50.js';

const STRUCTURE: GroupStructure = {
  fp32Factor: false,
  perLayer: false,
  localMovement: false,
  mergeKernel: false,
  splitVector: false,
  movementOnDma: false,
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

/** A 3x3 depthwise conv of 64 channels on 16 x 16 (the depthwise-lowering cases). */
const depthwise: CostLayer = {
  ...conv('dw', 16, []),
  macs: 64 * 16 * 16 * 9,
  weightElems: 64 * 9,
  channels: { in: 64, out: 64, groups: 64 },
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

t.test('a layer an INT8 BModel keeps in float runs at the float rate', async (t) => {
  const layers = [conv('a', 16, []), conv('b', 16, [0])];
  const int8 = groupPlan(layers, 'bm1684x', 'int8', 1, STRUCTURE);
  const mixed = groupPlan(layers, 'bm1684x', 'int8', 1, STRUCTURE, new Set([1]));
  t.equal(mixed.matrixMs[0], int8.matrixMs[0], 'the INT8 layer is unchanged');
  // BM1684X keeps F16 (fp_layer_search.py FLOAT_MAP): half the INT8 peak, 2 bytes a value.
  const ratio = (mixed.matrixMs[1] ?? 0) / (int8.matrixMs[1] ?? 1);
  t.ok(Math.abs(ratio - 2) < 1e-9, `F16 layer ${ratio}x the INT8 time`);
  t.equal(mixed.outBytes[1], 2 * (int8.outBytes[1] ?? 0));
  t.equal(mixed.fp32[1], 0, 'F16 is not scaled by the FP32 factor');
  // BM1684 keeps F32, for the batch's images, not the 4N group of INT8.
  const bm1684 = groupPlan(layers, 'bm1684', 'int8', 1, STRUCTURE, new Set([1]));
  t.equal(bm1684.fp32[1], 1);
  t.equal(bm1684.outBytes[1], 4 * 64 * 16 * 16, 'one image at 4 bytes');
  t.equal(bm1684.outBytes[0], 4 * 64 * 16 * 16, 'four images (4N) at 1 byte');
  const fp16 = groupPlan(layers, 'bm1684x', 'fp16', 1, STRUCTURE, new Set([1]));
  t.equal(fp16.matrixMs[1], fp16.matrixMs[0], 'the table only matters at INT8');
});

t.test('3ic: thin convs merge kernel rows/columns into the reduced channels', async (t) => {
  // tpu-mlir WeightReorder/BM1684X/Conv2D.cpp use_3ic_optimize, IC_PARALLEL 64 (INT8).
  t.equal(reducedChannels(3, 3, 3, 64), 27, 'kh and kw merged');
  t.equal(reducedChannels(3, 7, 7, 64), 21, 'ResNet-50 conv1: 147 > 64, kh merged');
  t.equal(reducedChannels(12, 3, 3, 32), 12, 'nothing fits F16 IC_PARALLEL 32 but 12 x 3 = 36');
  t.equal(reducedChannels(64, 3, 3, 64), 64, 'a wide conv is unchanged');
  const first: CostLayer = { ...conv('c1', 16, []), channels: { in: 3, out: 64, groups: 1 } };
  const plain = groupPlan([{ ...first, kernelShape: [3, 3] }], 'bm1684x', 'int8', 1, STRUCTURE);
  const merged = groupPlan([{ ...first, kernelShape: [3, 3] }], 'bm1684x', 'int8', 1, {
    ...STRUCTURE,
    mergeKernel: true,
  });
  const ratio = (plain.matrixMs[0] ?? 0) / (merged.matrixMs[0] ?? 1);
  t.ok(Math.abs(ratio - 64 / 3 / (64 / 27)) < 1e-9, `padding 64/3 -> 64/27: ${ratio}x faster`);
});

t.test('a copy run on its own costs DDR only when data movement is on the DMA', async (t) => {
  const concat: CostLayer = {
    name: 'cat',
    kind: 'other',
    macs: 2 * 64 * 16 * 16,
    weightElems: 0,
    activationInElems: 2 * 64 * 16 * 16,
    activationOutElems: 2 * 64 * 16 * 16,
    inputs: [0, 1],
  };
  const layers = [conv('a', 16, []), conv('b', 16, [0]), concat];
  const lanes = groupPlan(layers, 'bm1684x', 'fp16', 1, STRUCTURE);
  const dma = groupPlan(layers, 'bm1684x', 'fp16', 1, { ...STRUCTURE, movementOnDma: true });
  t.ok((lanes.vectorMs[2] ?? 0) > 0, 'on the lanes: vector time');
  t.equal(dma.vectorMs[2], 0, 'on the DMA: no vector time');
  const copy = partition(dma, { ...K, groupUs: 0 }).groups.at(-1);
  t.equal(copy?.first, 2, 'the copy runs on its own');
  const ddrMs = (2 * 2 * 64 * 16 * 16 * 2) / (64 * 1e6 * 0.85);
  t.ok(Math.abs((copy?.ms ?? 0) - ddrMs) < 1e-9, `the copy's group is its DDR time ${ddrMs} ms`);
});

t.test('a fused sigmoid costs its lane instructions, a depthwise conv its MACs', async (t) => {
  // SiLU after a conv: a Sigmoid pass (exp, add, divide: 21 instructions) and a Mul pass (1).
  const elems = 64 * 16 * 16;
  const silu: CostLayer = {
    ...conv('c', 16, []),
    fusedVectorElems: 2 * elems,
    fusedVectorOps: 22 * elems,
  };
  const passes = groupPlan([silu], 'bm1684', 'fp32', 1, STRUCTURE);
  const ops = groupPlan([silu], 'bm1684', 'fp32', 1, { ...STRUCTURE, activationOps: true });
  const ratio = (ops.activationMs[0] ?? 0) / (passes.activationMs[0] ?? 1);
  t.ok(Math.abs(ratio - 11) < 1e-9, `22 instructions over 2 passes: ${ratio}x`);
  t.equal(ops.matrixMs[0], passes.matrixMs[0], 'the conv itself is unchanged');

  const lanes = groupPlan([depthwise], 'bm1684', 'fp32', 1, STRUCTURE);
  const onConv = groupPlan([depthwise], 'bm1684', 'fp32', 1, {
    ...STRUCTURE,
    depthwiseOnConv: true,
  });
  // BM1684 FP32: 64 NPUs x 32 lanes, one MAC per lane per cycle at 0.54 GHz.
  const cyclesPerMs = 2.2e12 / (64 * 32 * 2) / 1e3;
  const laneMs = (elems * 9) / (64 * 32 * cyclesPerMs);
  t.ok(Math.abs((lanes.vectorMs[0] ?? 0) / laneMs - 1) < 1e-9, 'vector lanes: one MAC a cycle');
  t.equal(lanes.matrixMs[0], 0);
  t.equal(onConv.vectorMs[0], 0, 'no vector-lane time');
  t.ok(
    Math.abs((onConv.matrixMs[0] ?? 0) / laneMs - 1) < 1e-9,
    'the same MACs, at the conv factor',
  );
});

t.test('BM1684 INT8 lane work on 32-bit words: per image, as FP32', async (t) => {
  const words = { ...STRUCTURE, int8LanesAsWords: true };
  const at = (batch: number, s: GroupStructure, chip = 'bm1684') =>
    groupPlan([depthwise], chip, 'int8', batch, s).vectorMs[0] ?? 0;
  // 4N: batch 1 is padded to four 1-byte images, so batch 4 costs the same launch.
  t.equal(at(4, STRUCTURE), at(1, STRUCTURE), '4N: one launch for 1 or 4 images');
  t.equal(at(1, words), at(1, STRUCTURE), 'batch 1: one 32-bit word = four 1-byte images');
  t.ok(Math.abs(at(4, words) / at(1, words) - 4) < 1e-9, 'batch 4: four words');
  const fp32 = groupPlan([depthwise], 'bm1684', 'fp32', 4, words).vectorMs[0] ?? 0;
  t.ok(Math.abs(at(4, words) / fp32 - 1) < 1e-9, 'as FP32 per image');
  t.equal(at(4, words, 'bm1684x'), at(4, STRUCTURE, 'bm1684x'), 'no 4N on BM1684X: unchanged');
});

t.test(
  'a channel Concat or nearest Resize joins a group only when marked and chosen',
  async (t) => {
    const up: CostLayer = {
      name: 'up',
      kind: 'other',
      macs: 64 * 32 * 32,
      weightElems: 0,
      activationInElems: 64 * 16 * 16,
      activationOutElems: 64 * 32 * 32,
      inputs: [0],
      rows: { out: 32, kernel: 1 },
    };
    const after = conv('b', 32, [1]);
    const spans = (marked: boolean, groupedCopies: boolean) => {
      const layers = [conv('a', 16, []), marked ? { ...up, runsInLayerGroup: true as const } : up];
      const plan = groupPlan([...layers, after], 'bm1684x', 'int8', 1, {
        ...STRUCTURE,
        groupedCopies,
      });
      return partition(plan, { ...K, groupUs: 1e6 }).groups.map((g) => [g.first, g.last]);
    };
    t.same(spans(true, true), [[0, 2]], 'tpu-mlir runs Upsample locally: one launch');
    t.same(
      spans(true, false),
      [
        [0, 0],
        [1, 1],
        [2, 2],
      ],
      'not chosen: the Resize runs alone',
    );
    t.same(
      spans(false, true),
      [
        [0, 0],
        [1, 1],
        [2, 2],
      ],
      'not marked (a linear Resize): alone',
    );
  },
);

t.test('pipeline fill: one slice of the lesser of compute and DDR is not hidden', async (t) => {
  const layers = [conv('a', 16, []), conv('b', 16, [0])];
  const fill = { ...STRUCTURE, pipelineFill: true };
  const k = { ...K, groupUs: 0 };
  const plain = partition(groupPlan(layers, 'bm1684x', 'fp16', 1, STRUCTURE), k).groups[0];
  const filled = partition(groupPlan(layers, 'bm1684x', 'fp16', 1, fill), k).groups[0];
  t.equal(plain?.last, 1, 'one group');
  t.equal(filled?.slices, 1, 'it fits in one loop iteration');
  // One iteration: load, compute and store in turn (the first test's arithmetic).
  const elems = 64 * 16 * 16;
  const ddrMs = ((2 * elems + 2 * 64 * 64 * 9) * 2) / (64 * 1e6 * 0.85);
  const computeMs = (2 * 2 * elems * 64 * 9) / 16e9;
  t.ok(Math.abs((plain?.ms ?? 0) - Math.max(computeMs, ddrMs)) < 1e-12, 'hidden: the max');
  t.ok(Math.abs((filled?.ms ?? 0) - (computeMs + ddrMs)) < 1e-12, 'one iteration: the sum');
  // Only the boundary activations exposed: the weights load while an earlier layer computes.
  const actOnly = { ...fill, fillActivationsOnly: true };
  const act = partition(groupPlan(layers, 'bm1684x', 'fp16', 1, actOnly), k).groups[0];
  const actMs = (2 * elems * 2) / (64 * 1e6 * 0.85);
  const expected = Math.max(computeMs, ddrMs) + Math.min(computeMs, actMs);
  t.ok(Math.abs((act?.ms ?? 0) - expected) < 1e-12, 'activations only');
});

t.test('the cost per layer is paid per loop iteration when chosen', async (t) => {
  // Two 64 MiB FP32 tensors: the group is cut into row bands (second test).
  const big = [conv('a', 512, []), conv('b', 512, [0])];
  const k = { ...K, groupUs: 1e6, layerUs: 1 };
  const once = partition(groupPlan(big, 'bm1684x', 'fp32', 1, STRUCTURE), k).groups;
  const per = partition(
    groupPlan(big, 'bm1684x', 'fp32', 1, { ...STRUCTURE, layerPerSlice: true }),
    k,
  ).groups;
  const [group] = once;
  t.equal(group?.last, 1, 'one group');
  t.ok((group?.slices ?? 0) > 1, `${group?.slices} slices`);
  // 1 us per layer: per iteration, the difference is (slices - 1) x 2 layers x 1 us (the same
  // partition, batch 1: one image, so iterations = row bands = slices).
  t.equal(per[0]?.last, 1, 'still one group');
  const extra = (per[0]?.ms ?? 0) - (group?.ms ?? 0);
  t.ok(Math.abs(extra - ((group?.slices ?? 1) - 1) * 0.002) < 1e-9, `+${extra} ms`);
});

t.test('an in-place copy costs nothing for one image, and runs as a copy otherwise', async (t) => {
  const concat: CostLayer = {
    name: 'cat',
    kind: 'other',
    macs: 2 * 64 * 16 * 16,
    weightElems: 0,
    activationInElems: 2 * 64 * 16 * 16,
    activationOutElems: 2 * 64 * 16 * 16,
    inputs: [0, 1],
    inPlaceAtBatch1: 'concat',
  };
  const layers = [conv('a', 16, []), conv('b', 16, [0]), concat, conv('c', 16, [2])];
  const structure = { ...STRUCTURE, movementOnDma: true, inPlaceCopies: true };
  const copyMs = (chip: string, precision: 'fp16' | 'int8', batch: number, s = structure) => {
    const { groups } = partition(groupPlan(layers, chip, precision, batch, s), K);
    const alone = groups.find((g) => g.first === 2 && g.last === 2);
    t.ok(alone !== undefined, `${chip} ${precision} batch ${batch}: the Concat runs on its own`);
    return alone?.ms ?? Number.NaN;
  };
  t.equal(copyMs('bm1684x', 'fp16', 1), 0, 'one image: no launch, no traffic of its own');
  // With four images the dimension before the channels is the batch: a copy of 4 images' bytes.
  const ddrMs = (4 * 2 * 2 * 64 * 16 * 16 * 2) / (64 * 1e6 * 0.85);
  t.ok(Math.abs(copyMs('bm1684x', 'fp16', 4) - (ddrMs + 0.01)) < 1e-9, 'four images: DDR + launch');
  t.ok(copyMs('bm1684', 'int8', 1) > 0, "BM1684's INT8 4N layout: the Concat is a copy");
  t.ok(
    copyMs('bm1684x', 'fp16', 1, { ...structure, inPlaceCopies: false }) > 0,
    'term off: a copy',
  );
  // The next conv still loads the Concat's output from DDR as its group's input.
  const plan = groupPlan(layers, 'bm1684x', 'fp16', 1, structure);
  const last = partition(plan, K).groups.at(-1);
  t.equal(last?.first, 3, 'the consumer starts its own group');
});

t.test('BM1684 runs quantized 3-D convs and pools alone when chosen', async (t) => {
  // A 3x3x3 conv of 64 -> 64 channels on 4 x 16 x 16, a 2x2x2 max pool, a 3x3x3 conv.
  const conv3d = (name: string, inputs: number[]): CostLayer => ({
    ...conv(name, 8, inputs),
    macs: 64 * 4 * 16 * 16 * 64 * 27,
    weightElems: 64 * 64 * 27,
    rows: { out: 64, kernel: 3 },
    kernelShape: [3, 3, 3],
  });
  const pool: CostLayer = {
    name: 'pool',
    kind: 'pool',
    macs: 64 * 2 * 8 * 8 * 8,
    weightElems: 0,
    activationInElems: 64 * 4 * 16 * 16,
    activationOutElems: 64 * 2 * 8 * 8,
    inputs: [0],
    rows: { out: 16, kernel: 2 },
    kernelShape: [2, 2, 2],
  };
  const layers = [conv3d('a', []), pool, conv3d('b', [1])];
  const spans = (chip: string, precision: 'int8' | 'fp32', global3dInt8: boolean) =>
    partition(groupPlan(layers, chip, precision, 1, { ...STRUCTURE, global3dInt8 }), {
      ...K,
      groupUs: 1e6,
    }).groups.map((g) => [g.first, g.last]);
  const alone = [
    [0, 0],
    [1, 1],
    [2, 2],
  ];
  t.same(spans('bm1684', 'int8', true), alone, 'LocalGenSupport fails: three launches');
  t.same(spans('bm1684', 'int8', false), [[0, 2]], 'not chosen: one group');
  t.same(spans('bm1684', 'fp32', true), [[0, 2]], 'BM1684 FP32 runs them locally');
  t.same(spans('bm1684x', 'int8', true), [[0, 2]], 'BM1684X runs them locally');
});

t.test('BM1684 FP32 depthwise on the conv unit when chosen, INT8 on the lanes', async (t) => {
  const byUnit = { ...STRUCTURE, depthwiseByUnit: true };
  const plan = (chip: string, precision: 'int8' | 'fp32', s: GroupStructure) =>
    groupPlan([depthwise], chip, precision, 1, s);
  const lanes = plan('bm1684', 'fp32', STRUCTURE);
  const unit = plan('bm1684', 'fp32', byUnit);
  t.equal(unit.vectorMs[0], 0, 'no lane time at FP32');
  t.equal(unit.matrixMs[0], lanes.vectorMs[0], 'the same MACs at the conv factor');
  t.equal(unit.fp32[0], 1, 'and the FP32 conv factor');
  t.same(plan('bm1684', 'int8', byUnit).vectorMs, plan('bm1684', 'int8', STRUCTURE).vectorMs);
  t.same(plan('bm1684x', 'fp32', byUnit).vectorMs, plan('bm1684x', 'fp32', STRUCTURE).vectorMs);
});

t.test('INT8 depthwise on 32-bit accumulators when chosen (BM1684X family)', async (t) => {
  const int32 = { ...STRUCTURE, depthwiseInt32: true };
  const lane = (chip: string, precision: 'int8' | 'fp16', s: GroupStructure) =>
    groupPlan([depthwise], chip, precision, 1, s).vectorMs[0] ?? 0;
  for (const chip of ['bm1684x', 'bm1688']) {
    t.ok(
      Math.abs(lane(chip, 'int8', int32) / lane(chip, 'int8', STRUCTURE) - 4) < 1e-9,
      `${chip}: 4 bytes per element instead of 1`,
    );
    t.equal(lane(chip, 'fp16', int32), lane(chip, 'fp16', STRUCTURE), `${chip}: FP16 unchanged`);
  }
  t.equal(lane('bm1684', 'int8', int32), lane('bm1684', 'int8', STRUCTURE), 'BM1684: unchanged');
  const plain = conv('a', 16, []);
  t.same(
    groupPlan([plain], 'bm1688', 'int8', 1, int32).matrixMs,
    groupPlan([plain], 'bm1688', 'int8', 1, STRUCTURE).matrixMs,
    'a dense conv is unchanged',
  );
});
