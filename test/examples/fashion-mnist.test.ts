// The committed Fashion-MNIST sample (examples/fashion-mnist) is what the compiler, quantizer and
// demos build on: check its files are complete and that the exported ONNX, run by
// onnxruntime-node on the committed eval PNGs, keeps the accuracy train.py reported.
import { readdir, readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import t from 'tap';
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import { parsePreprocessSpec, preprocessImage } from '../../shared/preprocess/index.js';

const DIR = fileURLToPath(new URL('../../examples/fashion-mnist/', import.meta.url));
const readJson = async (name: string) =>
  JSON.parse(await readFile(path.join(DIR, name), 'utf8')) as Record<string, unknown>;

async function grayPixels(file: string): Promise<Buffer> {
  const { data, info } = await sharp(file).toColourspace('b-w').raw().toBuffer({
    resolveWithObject: true,
  });
  if (info.width !== 28 || info.height !== 28 || info.channels !== 1) {
    throw new Error(`${file}: ${info.width}x${info.height}x${info.channels}, want 28x28x1`);
  }
  return data;
}

const pngs = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith('.png')).sort();

t.test('sidecar files describe the model', async (t) => {
  const spec = await readJson('preprocess.json');
  t.same(spec['resize_dims'], [28, 28]);
  t.equal(spec['pixel_format'], 'gray');
  t.equal(spec['channel_format'], 'nchw');
  t.same(spec['output'], { dtype: 'float32' });
  const labels = (await readFile(path.join(DIR, 'labels.txt'), 'utf8')).trim().split('\n');
  t.equal(labels.length, 10, 'ten class names');
  const metrics = await readJson('metrics.json');
  t.ok((metrics['test_top1'] as number) >= 0.9, `train.py reported ${metrics['test_top1']}`);
  const size = (await stat(path.join(DIR, 'model.onnx'))).size;
  t.ok(size < 1_000_000, `model.onnx is ${size} bytes`);
});

t.test('preprocess.json drives shared/preprocess to the same tensor as the formula', async (t) => {
  const json = await readJson('preprocess.json');
  const spec = parsePreprocessSpec(json);
  const [mean] = json['mean'] as number[];
  const [scale] = json['scale'] as number[];
  const dir = path.join(DIR, 'eval', '0');
  for (const f of (await pngs(dir)).slice(0, 10)) {
    const file = path.join(dir, f);
    const tensor = await preprocessImage(await readFile(file), spec);
    t.same(tensor.shape, [1, 1, 28, 28], `${f} shape`);
    const pixels = await grayPixels(file);
    const worst = Array.from(tensor.data as Float32Array).reduce(
      (m, y, i) => Math.max(m, Math.abs(y - (pixels[i]! - mean!) * scale!)),
      0,
    );
    t.ok(worst < 1e-5, `${f}: max difference ${worst}`);
  }
});

t.test('calibration and eval subsets are complete and disjoint', async (t) => {
  const calibration = await pngs(path.join(DIR, 'calibration'));
  t.equal(calibration.length, 200);
  const classes = (await readdir(path.join(DIR, 'eval'))).sort((a, b) => Number(a) - Number(b));
  t.same(classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  const seen = new Set(calibration);
  for (const c of classes) {
    const files = await pngs(path.join(DIR, 'eval', c));
    t.equal(files.length, 200, `class ${c}`);
    const overlap = files.filter((f) => seen.has(f));
    t.same(overlap, [], `class ${c} shares no image with calibration or other classes`);
    for (const f of files) seen.add(f);
  }
  for (const f of calibration.slice(0, 20)) await grayPixels(path.join(DIR, 'calibration', f));
});

t.test('ONNX model keeps its accuracy on the 2,000 eval images', async (t) => {
  const spec = await readJson('preprocess.json');
  const [mean] = spec['mean'] as number[];
  const [scale] = spec['scale'] as number[];
  const session = await ort.InferenceSession.create(path.join(DIR, 'model.onnx'));
  t.same(session.inputNames, ['input']);
  t.same(session.outputNames, ['logits']);
  try {
    const perClass: number[] = [];
    let correct = 0;
    let total = 0;
    for (let label = 0; label < 10; label++) {
      const dir = path.join(DIR, 'eval', String(label));
      let hits = 0;
      const files = await pngs(dir);
      for (const f of files) {
        const pixels = await grayPixels(path.join(dir, f));
        // Vendor preprocessing y = (x - mean) * scale (docs/vendor.md section 1).
        const input = Float32Array.from(pixels, (x) => (x - mean!) * scale!);
        const out = await session.run({ input: new ort.Tensor('float32', input, [1, 1, 28, 28]) });
        const logits = out['logits']!.data as Float32Array;
        let best = 0;
        for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
        if (best === label) hits++;
      }
      perClass.push(hits / files.length);
      correct += hits;
      total += files.length;
    }
    const top1 = correct / total;
    t.comment(
      `eval top-1 ${(top1 * 100).toFixed(2)}% on ${total} images; per class ` +
        perClass.map((a) => (a * 100).toFixed(1)).join(' '),
    );
    t.equal(total, 2000);
    t.ok(top1 >= 0.88, `top-1 ${top1} >= 0.88`);
  } finally {
    await session.release();
  }
});
