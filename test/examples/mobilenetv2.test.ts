// The MobileNetV2 sample is generated on demand (gitignored, ~14 MB; needs Debian python3-torch and
// python3-torchvision, both installed by .ci/run): when it cannot be had, say why and check only
// the locator.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import * as ort from 'onnxruntime-node';
import { locateMobileNetV2, MOBILENETV2_PATH } from '../../examples/mobilenetv2/ensure.js';
import { describeGraph, loadOnnx } from '../../controller/onnx/index.js';
import { estimateLatency, layersFromGraph } from '../../controller/compile/cost/index.js';

const located = await locateMobileNetV2();
const unavailable =
  located.path === undefined ? `MobileNetV2 not available: ${located.reason}` : false;

t.test('a missing interpreter is reported, not thrown', async (t) => {
  const dir = t.testdir({});
  const r = await locateMobileNetV2({
    python: '/nonexistent/python3',
    path: path.join(dir, 'mobilenetv2.onnx'),
  });
  t.equal(r.path, undefined);
  t.match(r, { reason: /\/nonexistent\/python3 not found/ });
  t.equal(MOBILENETV2_PATH.endsWith('examples/mobilenetv2/mobilenetv2.onnx'), true);
});

t.test('MobileNetV2 ONNX has the advertised interface', { skip: unavailable }, async (t) => {
  const r = located;
  if (r.path === undefined) return;
  const size = (await stat(r.path)).size;
  t.ok(size > 10_000_000 && size < 20_000_000, `FP32 MobileNetV2 is ~14 MB (${size})`);
  const session = await ort.InferenceSession.create(r.path);
  try {
    t.same(session.inputNames, ['input']);
    t.same(session.outputNames, ['logits']);
    const input = new ort.Tensor(
      'float32',
      new Float32Array(3 * 224 * 224).fill(0.5),
      [1, 3, 224, 224],
    );
    const out = await session.run({ input });
    t.same(out['logits']!.dims, [1, 1000]);
    t.ok(
      Array.from(out['logits']!.data as Float32Array).every(Number.isFinite),
      'finite logits (weights are random: values are meaningless)',
    );
  } finally {
    await session.release();
  }
});

t.test('cost model reads the real MobileNetV2 graph', { skip: unavailable }, async (t) => {
  const r = located;
  if (r.path === undefined) return;
  const nodes = await describeGraph(loadOnnx(await readFile(r.path)), [[1, 3, 224, 224]]);
  const layers = layersFromGraph(nodes);
  const macs = layers
    .filter((l) => l.kind === 'conv' || l.kind === 'matmul')
    .reduce((s, l) => s + l.macs, 0);
  // torchvision documents mobilenet_v2 at 0.30 GFLOPS (multiply-adds).
  t.ok(macs > 295e6 && macs < 305e6, `${(macs / 1e6).toFixed(1)} M MACs`);
  t.equal(
    layers.filter((l) => l.kind === 'elementwise').length,
    10,
    'ReLU6 (Clip) fused into its conv: only the 10 residual Adds remain',
  );
  const ms = (p: 'fp32' | 'fp16' | 'int8') => estimateLatency(layers, 'bm1684x', p).totalMs;
  t.comment(`modeled BM1684X: fp32 ${ms('fp32').toFixed(3)} ms, int8 ${ms('int8').toFixed(3)} ms`);
  t.ok(ms('fp32') > ms('fp16') && ms('fp16') > ms('int8'));
});
