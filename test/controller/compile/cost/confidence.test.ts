// The cost model's confidence (controller/compile/cost/confidence.ts), judged on what
// `bmfleet compile` prints (the layer-group model): ResNet-50 (conv and residual adds) is the
// better-covered mix; YOLOv5s (concat, resize and SiLU between its convs, docs/cost-model.md) is
// not. Both graphs are the cost fixtures' shape-annotated builders.
import t from 'tap';
import {
  costConfidence,
  estimateGroupLatency,
  layersFromGraph,
} from '../../../../controller/compile/cost/index.js';
import type { CostLayer } from '../../../../controller/compile/cost/index.js';
import { resnet50Graph } from '../../../../harness/cost/resnet50.js';
import { yolov5sGraph } from '../../../../harness/cost/yolov5s.js';

const judge = (layers: CostLayer[]) =>
  costConfidence(layers, estimateGroupLatency(layers, 'bm1684x', 'fp32'));

t.test('ResNet-50 is covered: conv/matmul dominate, no data-movement layers', async (t) => {
  const c = judge(layersFromGraph(resnet50Graph(1)));
  t.equal(c.level, 'medium');
  t.ok(c.matrixShare >= 0.9, `matrix share ${c.matrixShare}`);
  t.equal(c.byKind[0]?.kind, 'conv', 'conv dominates');
  const total = c.byKind.reduce((s, k) => s + k.share, 0);
  t.ok(Math.abs(total - 1) < 1e-9, `shares sum to 1 (${total})`);
  t.match(c.reason, /docs\/cost-model\.md/);
});

t.test('YOLOv5s is not covered and says why', async (t) => {
  const c = judge(layersFromGraph(yolov5sGraph(1, 640)));
  t.equal(c.level, 'low');
  t.ok(c.otherLayerShare > 0.1, `data-movement layers ${c.otherLayerShare}`);
  t.match(c.reason, /concat, resize/);
});

t.test('an empty network is low confidence, not a division by zero', async (t) => {
  const c = costConfidence([], { perLayer: [], totalMs: 0 });
  t.equal(c.level, 'low');
  t.same(c.byKind, []);
});
