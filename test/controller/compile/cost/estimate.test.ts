import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  estimateLatency,
  weightBytes,
  type CostLayer,
} from '../../../../controller/compile/cost/estimate.js';
import { layersFromGraph } from '../../../../controller/compile/cost/graph.js';
import {
  chipSpecs,
  COST_PRECISIONS,
  type CostPrecision,
} from '../../../../controller/compile/cost/chips.js';
import { resnet50Graph } from '../../../../harness/cost/resnet50.js';
import { yolov5sGraph } from '../../../../harness/cost/yolov5s.js';

interface PublishedRow {
  model: string;
  chip: string;
  precision: CostPrecision;
  batch: number;
  lowMs: number;
  highMs: number;
  fitted: boolean;
}

const published = JSON.parse(
  readFileSync(new URL('../../../fixtures/cost/published.json', import.meta.url), 'utf8'),
) as {
  tolerance: number;
  rows: PublishedRow[];
  sanity: { factor: number; rows: Omit<PublishedRow, 'fitted'>[] };
};

t.test('reproduces the published ResNet-50 bmrt_test rows within +-20%', async (t) => {
  for (const row of published.rows) {
    const layers = layersFromGraph(resnet50Graph(row.batch));
    const e = estimateLatency(layers, row.chip, row.precision, { batch: row.batch });
    const label = `${row.model} ${row.chip} ${row.precision} b${row.batch}`;
    t.comment(
      `${label}: modeled ${e.perImageMs.toFixed(3)} ms/image, published ${row.lowMs}-${row.highMs}` +
        (row.fitted ? ' (fitted row)' : ' (not fitted: out-of-sample check)'),
    );
    t.equal(e.modeled, true, `${label} is labelled modeled`);
    t.ok(
      e.perImageMs >= row.lowMs * (1 - published.tolerance) &&
        e.perImageMs <= row.highMs * (1 + published.tolerance),
      `${label}: ${e.perImageMs.toFixed(3)} ms within +-${published.tolerance * 100}%`,
    );
  }
});

t.test('YOLOv5s is not absurd (a sanity bound, not a reproduction)', async (t) => {
  const yolo = layersFromGraph(yolov5sGraph(1));
  const resnet = layersFromGraph(resnet50Graph(1));
  const { factor, rows } = published.sanity;
  for (const row of rows) {
    const e = estimateLatency(yolo, row.chip, row.precision, { batch: row.batch });
    const label = `yolov5s ${row.chip} ${row.precision} b${row.batch}`;
    t.comment(
      `${label}: modeled ${e.perImageMs.toFixed(2)} ms, published ${row.lowMs} ` +
        `(ratio ${(e.perImageMs / row.lowMs).toFixed(2)})`,
    );
    t.ok(
      e.perImageMs > row.lowMs / factor && e.perImageMs < row.highMs * factor,
      `${label} within a factor of ${factor}`,
    );
    const r = estimateLatency(resnet, row.chip, row.precision, { batch: row.batch });
    t.ok(e.perImageMs > r.perImageMs, `${label} slower than ResNet-50, as published`);
  }
});

t.test('FP32 > FP16 > INT8 for a conv-heavy net on BM1684X', async (t) => {
  const layers = layersFromGraph(resnet50Graph(1));
  const ms = (p: CostPrecision) => estimateLatency(layers, 'bm1684x', p).totalMs;
  t.ok(ms('fp32') > ms('fp16'), 'fp32 slower than fp16');
  t.ok(ms('fp16') > ms('int8'), 'fp16 slower than int8');
  t.equal(ms('bf16'), ms('fp16'), 'bf16 runs on the same MAC array width as fp16');
});

t.test('batching amortises weights and launch overhead', async (t) => {
  const layers = layersFromGraph(resnet50Graph(1));
  const b1 = estimateLatency(layers, 'bm1684x', 'int8', { batch: 1 });
  const b4 = estimateLatency(layers, 'bm1684x', 'int8', { batch: 4 });
  t.ok(b4.totalMs > b1.totalMs, 'a batch of 4 takes longer than one image');
  t.ok(b4.perImageMs < b1.perImageMs, 'but less per image');
  // BM1684 INT8 works in groups of 4 images (4N store mode): batches 1 and 4 cost the same launch.
  const g1 = estimateLatency(layers, 'bm1684', 'int8', { batch: 1 });
  const g4 = estimateLatency(layers, 'bm1684', 'int8', { batch: 4 });
  t.equal(g1.totalMs, g4.totalMs, 'BM1684 INT8 4N: batch 1 pays for 4 lanes');
});

t.test('roofline bound per layer', async (t) => {
  // An Add of two 1x256x56x56 tensors: one operation per 3 elements moved.
  const elems = 256 * 56 * 56;
  const add: CostLayer = {
    name: 'add',
    kind: 'elementwise',
    macs: elems,
    weightElems: 0,
    activationInElems: 2 * elems,
    activationOutElems: elems,
  };
  // A 3x3 conv 256->256 on 14x14: ~116 MMACs on 0.6 M weights: high arithmetic intensity.
  const conv: CostLayer = {
    name: 'conv',
    kind: 'conv',
    macs: 256 * 14 * 14 * 256 * 9,
    weightElems: 256 * 256 * 9,
    activationInElems: 256 * 14 * 14,
    activationOutElems: 256 * 14 * 14,
  };
  // BM1684 and BM1684X; on the BM1688-class cores the modeled FP32 vector rate (an estimate) is
  // low enough that a lone FP32 Add comes out compute-bound, so they are not part of this check.
  for (const spec of chipSpecs.filter((s) => s.chip === 'bm1684' || s.chip === 'bm1684x')) {
    for (const precision of COST_PRECISIONS) {
      if (spec.peakTeraOps[precision] === undefined) continue;
      const e = estimateLatency([add, conv], spec.chip, precision);
      t.equal(e.perLayer[0]?.bound, 'memory', `${spec.chip} ${precision}: Add is memory-bound`);
      t.equal(e.perLayer[1]?.bound, 'compute', `${spec.chip} ${precision}: conv is compute-bound`);
      t.ok(e.perLayer.every((l) => l.ms > 0));
    }
  }
});

t.test('weight bytes follow the precision', async (t) => {
  const layer = { weightElems: 1000 };
  t.same(
    COST_PRECISIONS.map((p) => weightBytes(layer, p)),
    [4000, 2000, 2000, 1000],
  );
});

t.test('bad input is a typed error', async (t) => {
  const layers = layersFromGraph(resnet50Graph(1));
  t.throws(() => estimateLatency(layers, 'bm9999', 'fp32'), { code: 'BMF_ERR_CHIP_UNKNOWN' });
  t.throws(() => estimateLatency(layers, 'bm1684', 'fp16'), {
    code: 'BMF_ERR_PRECISION_UNSUPPORTED',
  });
  t.throws(() => estimateLatency(layers, 'bm1684x', 'fp32', { batch: 0 }), {
    code: 'BMF_ERR_USAGE',
  });
  const broken = [{ ...layers[0]!, macs: Number.NaN }];
  t.throws(() => estimateLatency(broken, 'bm1684x', 'fp32'), { code: 'BMF_ERR_MODEL_UNSUPPORTED' });
});
