// The cost-fit benchmark's per-kind roofline: lane padding as documented (docs/cost-model.md),
// and a fit that recovers known coefficients from rows they generated.
import t from 'tap';
import {
  fitKinds,
  kindFeatures,
  predictKinds,
  SPILL_SHARE,
  type KindCoefficients,
} from '../../../bench/cost/per-kind.js';
import { layersFromGraph, type CostLayer } from '../../../controller/compile/cost/index.js';
import { resnet50Graph } from '../../../harness/cost/resnet50.js';
import { yolov5sGraph } from '../../../harness/cost/yolov5s.js';

const conv = (cin: number, cout: number, groups = 1): CostLayer => ({
  name: `conv${cin}x${cout}g${groups}`,
  kind: 'conv',
  macs: 1e6,
  weightElems: 0,
  activationInElems: 0,
  activationOutElems: 0,
  channels: { in: cin, out: cout, groups },
});

t.test('output channels pad to the NPUs, input channels to IC_PARALLEL', async (t) => {
  const ms = (l: CostLayer, p: 'fp32' | 'fp16' | 'int8') =>
    kindFeatures([l], 'bm1684x', p, 1).matrixMs;
  // BM1684X: 64 NPUs, IC_PARALLEL 64 at INT8 (32 at FP16, none at FP32), 32 TOPS INT8.
  const full = (2 * 1e6) / 32e9;
  t.ok(Math.abs(ms(conv(64, 64), 'int8') - full) < 1e-12, '64 -> 64: no padding');
  t.ok(Math.abs(ms(conv(64, 32), 'int8') - 2 * full) < 1e-12, '32 outputs use half the NPUs');
  t.ok(Math.abs(ms(conv(16, 64), 'int8') - 4 * full) < 1e-12, '16 inputs of 64 IC lanes');
  t.ok(Math.abs(ms(conv(16, 64), 'fp16') - 2 * ((2 * 1e6) / 16e9)) < 1e-12, 'FP16: 32 IC lanes');
  t.ok(Math.abs(ms(conv(3, 64), 'fp32') - (2 * 1e6) / 2e9) < 1e-12, 'FP32: no IC padding');
  const dw = kindFeatures([conv(64, 64, 64)], 'bm1684x', 'int8', 1);
  t.equal(dw.matrixMs, 0, 'a depthwise conv is not on the MAC array');
  t.ok(dw.vectorMs > 0, 'it is costed on the vector lanes');
  // BM1684 INT8 computes groups of 4 images: batch 1 and batch 4 cost the same launch.
  const b1 = kindFeatures([conv(64, 64)], 'bm1684', 'int8', 1).matrixMs;
  t.equal(kindFeatures([conv(64, 64)], 'bm1684', 'int8', 4).matrixMs, b1);
});

t.test('a layer spills to DDR when its activations exceed half the local memory', async (t) => {
  // BM1684X: 64 NPUs x 256 KiB of LMEM = 16 MiB; half is 8 MiB.
  const act = (elems: number): CostLayer => ({
    name: `add${elems}`,
    kind: 'elementwise',
    macs: elems,
    weightElems: 0,
    activationInElems: elems,
    activationOutElems: elems,
  });
  const half = 8 * 1024 * 1024;
  const spill = (elems: number, p: 'fp16' | 'int8') =>
    kindFeatures([act(elems)], 'bm1684x', p, 1).spillMs;
  t.equal(spill(half / 4, 'fp16'), 0, 'in + out = 8 MiB at FP16: stays in LMEM');
  const over = half / 4 + 1024;
  t.ok(
    Math.abs(spill(over, 'fp16') - (2 * over * 2) / 64e6) < 1e-12,
    'just over: all its bytes at 64 GB/s',
  );
  t.equal(spill(over, 'int8'), 0, 'the same layer at INT8 (1 byte) fits');
  t.equal(SPILL_SHARE, 0.5);
});

t.test('a pool costs its kernel-area operations when they exceed its bytes', async (t) => {
  const pool = (macs: number): CostLayer => ({
    name: `pool${macs}`,
    kind: 'pool',
    macs,
    weightElems: 0,
    activationInElems: 400,
    activationOutElems: 100,
  });
  const vector = (l: CostLayer) => kindFeatures([l], 'bm1684x', 'int8', 1).vectorMs;
  // 2x2 pool: 100 outputs x 4 = 400 operations, fewer than the 500 elements moved.
  t.equal(vector(pool(400)), vector({ ...pool(400), kind: 'elementwise' }), 'bytes dominate');
  // A 5x5 window over 100 outputs (2,500 operations): five times the 500 elements moved.
  t.ok(Math.abs(vector(pool(2500)) - 5 * vector(pool(400))) < 1e-15, 'operations dominate');
});

t.test('the fit recovers the coefficients that generated its rows', async (t) => {
  const truth: KindCoefficients = { matrix: 1.8, vector: 6, spill: 0.7, layerUs: 4 };
  const nets = [layersFromGraph(resnet50Graph(1)), layersFromGraph(yolov5sGraph(1, 320))];
  const rows = nets.flatMap((layers) =>
    (['fp32', 'fp16', 'int8'] as const).flatMap((precision) =>
      [1, 4].map((batch) => {
        const features = kindFeatures(layers, 'bm1684x', precision, batch);
        const ms = predictKinds(features, truth) / batch;
        return { chip: 'bm1684x', precision, batch, ms, features };
      }),
    ),
  );
  const fitted = fitKinds(rows);
  const close = (a: number, b: number) => Math.abs(a - b) <= 0.02 * b;
  t.ok(close(fitted.matrix, truth.matrix), `1 / efficiency ${fitted.matrix}`);
  t.ok(close(fitted.vector, truth.vector), `vector ${fitted.vector}`);
  t.ok(close(fitted.spill, truth.spill), `spill ${fitted.spill}`);
  t.ok(close(fitted.layerUs, truth.layerUs), `launch ${fitted.layerUs}`);
});
