import { readFileSync } from 'node:fs';
import t from 'tap';
import { layersFromGraph, type GraphNodeInfo } from '../../../../controller/compile/cost/graph.js';
import type { CostLayer } from '../../../../controller/compile/cost/estimate.js';
import { resnet50Graph } from '../../../../harness/cost/resnet50.js';
import { yolov5sGraph } from '../../../../harness/cost/yolov5s.js';

interface GraphCase {
  name: string;
  nodes: GraphNodeInfo[];
  layers: CostLayer[];
}

const { cases } = JSON.parse(
  readFileSync(new URL('../../../fixtures/cost/graph-cases.json', import.meta.url), 'utf8'),
) as { cases: GraphCase[] };

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.same(layersFromGraph(c.nodes), c.layers);
  });
}

t.test('ResNet-50 totals match the torchvision model', async (t) => {
  for (const batch of [1, 4]) {
    const layers = layersFromGraph(resnet50Graph(batch));
    const macs = layers
      .filter((l) => l.kind === 'conv' || l.kind === 'matmul')
      .reduce((s, l) => s + l.macs, 0);
    const weights = layers.reduce((s, l) => s + l.weightElems, 0);
    // torchvision resnet50: 4.09 GMACs ("GFLOPS" in its docs), 25,557,032 parameters of which
    // 26,560 are BN scales that folding removes (the BN shifts become conv biases).
    t.equal(macs, 4_089_184_256, `batch ${batch}: MACs per image`);
    t.equal(weights, 25_557_032 - 26_560, `batch ${batch}: parameters after BN folding`);
    t.equal(layers.filter((l) => l.kind === 'conv').length, 53, 'conv layers');
    t.equal(
      layers.filter((l) => l.kind === 'elementwise').length,
      16,
      'residual Add (its Relu runs in the Add)',
    );
  }
});

t.test('YOLOv5s totals match the published model summary', async (t) => {
  const layers = layersFromGraph(yolov5sGraph(1));
  const macs = layers
    .filter((l) => l.kind === 'conv' || l.kind === 'matmul')
    .reduce((s, l) => s + l.macs, 0);
  // ultralytics YOLOv5s v6 summary: 7,225,885 parameters, 16.5 GFLOPs (2 per MAC) at 640.
  t.equal(
    layers.reduce((s, l) => s + l.weightElems, 0),
    7_225_885,
  );
  t.ok(Math.abs((2 * macs) / 1e9 - 16.5) < 0.2, `${((2 * macs) / 1e9).toFixed(2)} GFLOPs`);
  t.equal(
    layers.filter((l) => l.kind === 'elementwise').length,
    7,
    'SiLU fused into its conv: only the residual Adds remain',
  );
});

t.test('a missing shape is a typed dynamic-shape error', async (t) => {
  const nodes: GraphNodeInfo[] = [
    {
      name: 'add',
      opType: 'Add',
      inputs: [
        { name: 'a', shape: [1, 4], isInitializer: false },
        { name: 'b', isInitializer: false },
      ],
      outputs: [{ name: 'c', shape: [1, 4] }],
    },
  ];
  t.throws(() => layersFromGraph(nodes), { code: 'BMF_ERR_MODEL_DYNAMIC_SHAPE' });
  const negative: GraphNodeInfo[] = [
    { ...nodes[0]!, inputs: [{ name: 'a', shape: [-1, 4], isInitializer: false }] },
  ];
  t.throws(() => layersFromGraph(negative), { code: 'BMF_ERR_MODEL_DYNAMIC_SHAPE' });
});
