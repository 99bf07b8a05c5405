import t from 'tap';
import { cosineSimilarity } from '../../../shared/stats/similarity.js';
import {
  createOnnxSession,
  encodeOnnx,
  loadOnnx,
  ONNX_DTYPE,
  readFloat32,
  readInt32,
  readInt8,
} from '../../../controller/onnx/index.js';
import { quantizeMultiplier, requantize } from '../../../controller/quantize/quant-math.js';
import type { Tensor } from '../../../shared/tensor.js';
import { foldBatchNorm } from '../../../controller/quantize/bn-fold.js';
import { prepareModel, exposeTensors } from '../../../controller/quantize/prepared-model.js';
import { buildInt8Graph } from '../../../controller/quantize/qdq.js';
import {
  calibrationEntries,
  collectActivationStats,
} from '../../../controller/quantize/calibrate.js';
import { toyInputs, toyModelBytes } from './toy-model.js';

// The QDQ graph is run at onnxruntime's 'basic' level, as the quantizer's own INT8 evaluation
// does (controller/quantize/evaluate.ts): DequantizeLinear -> op -> QuantizeLinear then computes
// exactly what the graph says, in float on int8-grid values. At 'all', onnxruntime fuses those
// into QLinearConv/QGemm integer kernels chosen by the CPU: on AVX2 without AVX-512 VNNI they
// multiply u8 x s8 pairs with vpmaddubsw, whose int16 pair sums saturate (onnxruntime's
// quantization guide says so for U8S8 on such CPUs). Measured on this toy model: INT8 logits
// cosine >= 0.9997 on every image at 'basic' on both AVX-512 and emulated Haswell (qemu-x86_64
// -cpu Haswell), but as low as 0.9735 at 'all' on Haswell. The test is about the graph, not
// about one CPU's integer kernels.
const QDQ_LEVEL = { graphOptimizationLevel: 'basic' } as const;

async function runAll(
  bytes: Uint8Array,
  inputs: Tensor[],
  outputs?: string[],
  options: { graphOptimizationLevel?: 'basic' } = {},
) {
  const s = await createOnnxSession(bytes, options);
  try {
    const res = [];
    for (const x of inputs) res.push(await s.run({ input: x }, outputs));
    return res;
  } finally {
    await s.release();
  }
}

const inputs = toyInputs(20);

t.test('BatchNorm folding keeps the function and removes the node', async (t) => {
  const source = loadOnnx(toyModelBytes());
  const { model, folded } = foldBatchNorm(source);
  t.same(folded, ['bn_out']);
  t.notOk(model.graph.node!.some((n) => n.opType === 'BatchNormalization'));
  const a = await runAll(toyModelBytes(), inputs);
  const b = await runAll(encodeOnnx(model), inputs);
  a.forEach((r, k) => {
    const x = r.logits!.data as Float32Array;
    const y = b[k]!.logits!.data as Float32Array;
    t.ok(
      x.every((v, i) => Math.abs(v - y[i]!) < 1e-4),
      `image ${k}: folded output matches`,
    );
  });
});

t.test('layers fuse Conv+Relu and name layers by output tensor', async (t) => {
  const pm = await prepareModel(toyModelBytes());
  t.same(
    pm.layers.map((l) => [l.name, l.opType, l.int8Capable]),
    [
      ['relu_out', 'Conv+Relu', true],
      ['pool_out', 'MaxPool', true],
      ['flat', 'Flatten', true],
      ['logits', 'Gemm', true],
    ],
  );
  t.same(pm.activations, ['input', 'relu_out', 'pool_out', 'flat', 'logits']);
  t.same(pm.layers[3]!.weight, { name: 'fc.w', axis: 0 });
});

t.test('QDQ graph: int8 values on the grid, close to FP32, F32 layers stay float', async (t) => {
  const pm = await prepareModel(toyModelBytes());
  const stats = await collectActivationStats(pm, inputs);
  const thresholds = new Map(calibrationEntries(stats, 'max').map((e) => [e.name, e.threshold]));
  const int8 = buildInt8Graph(pm.model, pm.layers, { thresholds });
  t.same([...int8.precisions.values()], ['INT8', 'INT8', 'INT8', 'INT8']);
  const inits = int8.model.graph.initializer!;
  t.equal(inits.find((x) => x.name === 'relu_out_w_int8')?.dataType, ONNX_DTYPE.INT8);
  t.equal(inits.find((x) => x.name === 'logits_b_int32')?.dataType, ONNX_DTYPE.INT32);
  t.notOk(
    inits.some((x) => x.name === 'fc.w'),
    'float Gemm weights are gone',
  );

  const probe = int8.valueNames.get('relu_out')!;
  const exposed = encodeOnnx(exposeTensors(int8.model, [probe]));
  const q = await runAll(exposed, inputs, ['logits', probe], QDQ_LEVEL);
  const f = await runAll(pm.bytes, inputs);
  const scale = thresholds.get('relu_out')! / 128;
  for (const [k, r] of q.entries()) {
    const v = r[probe]!.data as Float32Array;
    const onGrid = v.every((x) => {
      const n = x / scale;
      return Math.abs(n - Math.round(n)) < 1e-3 && n >= -128.001 && n <= 127.001;
    });
    t.ok(onGrid, `image ${k}: relu_out holds int8 multiples of its scale`);
    const cos = cosineSimilarity(
      f[k]!.logits!.data as Float32Array,
      r.logits!.data as Float32Array,
    );
    t.ok(cos > 0.99, `image ${k}: INT8 logits cosine ${cos.toFixed(5)} > 0.99`);
  }

  const allF32 = buildInt8Graph(pm.model, pm.layers, {
    thresholds,
    precisions: new Map(pm.layers.map((l) => [l.name, 'F32' as const])),
  });
  t.notOk(allF32.model.graph.node!.some((n) => n.opType === 'QuantizeLinear'));
  const g = await runAll(encodeOnnx(allF32.model), inputs);
  t.same(g[0]!.logits!.data, f[0]!.logits!.data, 'all-F32 mixed precision equals FP32');

  const mixed = buildInt8Graph(pm.model, pm.layers, {
    thresholds,
    precisions: new Map([['logits', 'F32' as const]]),
  });
  t.same(mixed.precisions.get('logits'), 'F32');
  t.ok(
    mixed.model.graph.initializer!.some((x) => x.name === 'fc.w'),
    'F32 Gemm keeps float weights',
  );
  t.ok(
    mixed.model.graph.node!.some(
      (n) => n.opType === 'DequantizeLinear' && n.output?.[0] === 'flat_dq',
    ),
    'the F32 layer still reads the INT8 tensor its producer stores',
  );
});

t.test(
  'a second graph from the same model (cached int8 weights) equals one built afresh',
  async (t) => {
    const pm = await prepareModel(toyModelBytes());
    const stats = await collectActivationStats(pm, inputs);
    const first = new Map(calibrationEntries(stats, 'max').map((e) => [e.name, e.threshold]));
    const second = new Map([...first].map(([n, th]) => [n, th * 1.5]));
    t.notSame([...first.values()], [...second.values()], 'the two tables differ');
    buildInt8Graph(pm.model, pm.layers, { thresholds: first });
    const reused = buildInt8Graph(pm.model, pm.layers, { thresholds: second });
    // A fresh copy of the model is a new cache key: everything quantized again.
    const fresh = buildInt8Graph(structuredClone(pm.model), pm.layers, { thresholds: second });
    t.same(Buffer.from(encodeOnnx(reused.model)), Buffer.from(encodeOnnx(fresh.model)));
    const bias = (g: typeof reused) =>
      readInt32(g.model.graph.initializer!.find((x) => x.name === 'logits_b_int32')!);
    const once = buildInt8Graph(structuredClone(pm.model), pm.layers, { thresholds: first });
    t.notSame(bias(once), bias(reused), 'the int32 bias follows the input threshold');
  },
);

t.test('integer Gemm with on-chip requantization matches the QDQ graph within 1 LSB', async (t) => {
  const pm = await prepareModel(toyModelBytes());
  const stats = await collectActivationStats(pm, inputs);
  const thresholds = new Map(calibrationEntries(stats, 'kl').map((e) => [e.name, e.threshold]));
  const g = buildInt8Graph(pm.model, pm.layers, { thresholds });
  const init = (n: string) => g.model.graph.initializer!.find((x) => x.name === n)!;
  const w = readInt8(init('logits_w_int8'));
  const sw = readFloat32(init('logits_w_scale'));
  const bias = readInt32(init('logits_b_int32'));
  const sIn = thresholds.get('flat')! / 128;
  const sOut = thresholds.get('logits')! / 128;
  const mult = Array.from(sw, (s) => quantizeMultiplier((sIn * s) / sOut));
  const exposed = encodeOnnx(exposeTensors(g.model, ['flat_q', 'logits_q']));
  const runs = await runAll(exposed, inputs, ['flat_q', 'logits_q'], QDQ_LEVEL);
  let maxDiff = 0;
  for (const r of runs) {
    const x = r.flat_q!.data as Int8Array;
    const y = r.logits_q!.data as Int8Array;
    for (let n = 0; n < y.length; n++) {
      let acc = bias[n]!;
      for (let k = 0; k < x.length; k++) acc += w[n * x.length + k]! * x[k]!;
      maxDiff = Math.max(maxDiff, Math.abs(requantize(acc, mult[n]!) - y[n]!));
    }
  }
  t.ok(maxDiff <= 1, `max difference ${maxDiff} LSB (float vs integer rounding only)`);
});

t.test('batched calibration gives the statistics of one-at-a-time calibration', async (t) => {
  const pm = await prepareModel(toyModelBytes());
  const one = await collectActivationStats(pm, inputs, { batch: 1 });
  const many = await collectActivationStats(pm, inputs, { batch: 8, cacheBudgetBytes: 0 });
  for (const [name, a] of one) {
    const b = many.get(name)!;
    t.ok(Math.abs(a.range.absMax - b.range.absMax) < 1e-5, `${name}: same abs-max`);
    t.same(
      Array.from(b.histogram.counts),
      Array.from(a.histogram.counts),
      `${name}: same histogram`,
    );
  }
});
