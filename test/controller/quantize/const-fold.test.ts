// PyTorch-style exports: weights behind Identity nodes, Clip bounds as Constant nodes, ReLU6 as
// Clip(0, 6). The quantizer must see constant weights (so the Conv is INT8) and fuse the ReLU6.
import t from 'tap';
import {
  createOnnxSession,
  encodeOnnx,
  float32Tensor,
  loadOnnx,
  makeModel,
  makeNode,
  valueInfo,
  ONNX_DTYPE,
} from '../../../controller/onnx/index.js';
import { foldConstantNodes } from '../../../controller/quantize/const-fold.js';
import { prepareModel } from '../../../controller/quantize/prepared-model.js';
import {
  calibrationEntries,
  collectActivationStats,
} from '../../../controller/quantize/calibrate.js';
import { buildInt8Graph } from '../../../controller/quantize/qdq.js';
import { seeded, toyInputs } from './toy-model.js';

function exportedModel(clipMin: number): Uint8Array {
  const rnd = seeded(3);
  const fill = (n: number) => Float32Array.from({ length: n }, () => rnd());
  const scalar = (name: string, v: number) => ({
    ...makeNode('Constant', [], [name]),
    attribute: [{ name: 'value', type: 4, t: float32Tensor('', [], Float32Array.of(v)) }],
  });
  return encodeOnnx(
    makeModel({
      name: 'exported',
      opset: 13,
      inputs: [valueInfo('input', ONNX_DTYPE.FLOAT, [1, 1, 6, 6])],
      outputs: [valueInfo('logits', ONNX_DTYPE.FLOAT, [1, 3])],
      nodes: [
        makeNode('Identity', ['conv.w'], ['onnx::Conv_9']),
        scalar('clip_min', clipMin),
        scalar('clip_max', 6),
        makeNode('Conv', ['input', 'onnx::Conv_9', 'conv.b'], ['conv_out'], {
          pads: [1, 1, 1, 1],
          kernel_shape: [3, 3],
        }),
        makeNode('Clip', ['conv_out', 'clip_min', 'clip_max'], ['clip_out']),
        makeNode('Flatten', ['clip_out'], ['flat']),
        makeNode('Gemm', ['flat', 'fc.w', 'fc.b'], ['logits'], { transB: 1 }),
      ],
      initializers: [
        float32Tensor('conv.w', [2, 1, 3, 3], fill(18)),
        float32Tensor('conv.b', [2], fill(2)),
        float32Tensor('fc.w', [3, 72], fill(216)),
        float32Tensor('fc.b', [3], fill(3)),
      ],
    }),
  );
}

t.test(
  'Constant and Identity-of-initializer nodes become initializers; results unchanged',
  async (t) => {
    const bytes = exportedModel(0);
    const { model, folded } = foldConstantNodes(loadOnnx(bytes));
    t.same(folded, ['onnx::Conv_9', 'clip_min', 'clip_max']);
    t.same(
      model.graph.node!.map((n) => n.opType),
      ['Conv', 'Clip', 'Flatten', 'Gemm'],
    );
    t.equal(model.graph.node![0]!.input![1], 'conv.w', 'the Conv reads the weight directly');
    const x = toyInputs(1)[0]!;
    const run = async (b: Uint8Array) => {
      const s = await createOnnxSession(b);
      try {
        return (await s.run({ input: x })).logits!.data as Float32Array;
      } finally {
        await s.release();
      }
    };
    t.same([...(await run(encodeOnnx(model)))], [...(await run(bytes))]);
    const again = foldConstantNodes(model);
    t.same(again.folded, [], 'idempotent');
  },
);

const fusion: [string, number, string[], string[]][] = [
  [
    'Clip(0, 6) is a ReLU6: fused',
    0,
    ['Conv+Clip', 'Flatten', 'Gemm'],
    ['input', 'clip_out', 'flat', 'logits'],
  ],
  [
    'Clip(-1, 6) is not: a layer of its own',
    -1,
    ['Conv', 'Clip', 'Flatten', 'Gemm'],
    ['input', 'conv_out', 'clip_out', 'flat', 'logits'],
  ],
];
for (const [name, min, ops, activations] of fusion) {
  t.test(name, async (t) => {
    const pm = await prepareModel(exportedModel(min));
    t.same(
      pm.layers.map((l) => l.opType),
      ops,
    );
    t.same(pm.activations, activations, 'no Identity or Constant output is an activation');
    const conv = pm.layers[0]!;
    t.same(conv.weight, { name: 'conv.w', axis: 0 }, 'the weight is constant, so INT8 is possible');
    const stats = await collectActivationStats(pm, toyInputs(8));
    const thresholds = new Map(calibrationEntries(stats, 'max').map((e) => [e.name, e.threshold]));
    const int8 = buildInt8Graph(pm.model, pm.layers, { thresholds });
    t.ok(
      [...int8.precisions.values()].every((p) => p === 'INT8'),
      'every layer INT8',
    );
  });
}
