// `bmfleet quantize` ends with a verdict: an INT8 output below the similarity tolerance fails the
// command with BMF_ERR_QUANTIZE_DEGRADED and leaves the output folder as it was, unless
// --allow-degraded (BMODEL kept, exit 2). The automatic mode chooses its table on one half of
// the eval images and reports top-1 on the other half. Real files, real onnxruntime, the real CLI.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runCli } from '../../../harness/cli.js';
import {
  encodeOnnx,
  float32Tensor,
  makeModel,
  makeNode,
  valueInfo,
  ONNX_DTYPE,
} from '../../../controller/onnx/index.js';
import { splitValidation } from '../../../controller/quantize/quantize-model.js';
import { outputVerdict, parseTolerance } from '../../../controller/quantize/verdict.js';
import { makeTensor } from '../../../shared/tensor.js';
import { seeded, toyModelBytes } from './toy-model.js';

const tmp = mkdtempSync(join(tmpdir(), 'bmf-quantize-verdict-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * out = Conv(x, w) - Conv(x, w + 1e-4 r): the FP32 difference is small but structured; INT8
 * rounds both convolutions to the same grid, so the difference is lost (cosine near 0).
 */
function cancellingModelBytes(): Uint8Array {
  const rnd = seeded(3);
  const w = Float32Array.from({ length: 9 }, () => rnd());
  const w2 = w.map((v) => v + 1e-4 * rnd());
  return encodeOnnx(
    makeModel({
      name: 'cancel',
      inputs: [valueInfo('input', ONNX_DTYPE.FLOAT, [1, 1, 6, 6])],
      outputs: [valueInfo('diff', ONNX_DTYPE.FLOAT, [1, 1, 6, 6])],
      nodes: [
        makeNode('Conv', ['input', 'a.w'], ['a_out'], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }),
        makeNode('Conv', ['input', 'b.w'], ['b_out'], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }),
        makeNode('Sub', ['a_out', 'b_out'], ['diff']),
      ],
      initializers: [float32Tensor('a.w', [1, 1, 3, 3], w), float32Tensor('b.w', [1, 1, 3, 3], w2)],
    }),
  );
}

async function grayPng(rnd: () => number): Promise<Buffer> {
  const px = Buffer.from(Array.from({ length: 36 }, () => Math.floor((rnd() + 0.5) * 255)));
  return sharp(px, { raw: { width: 6, height: 6, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
}

const rnd = seeded(5);
writeFileSync(join(tmp, 'toy.onnx'), toyModelBytes());
writeFileSync(join(tmp, 'cancel.onnx'), cancellingModelBytes());
const spec = JSON.stringify({
  resize_dims: [6, 6],
  pixel_format: 'gray',
  mean: [128],
  scale: [0.02],
});
writeFileSync(join(tmp, 'preprocess.json'), spec);
mkdirSync(join(tmp, 'calib'));
for (let i = 0; i < 10; i++) writeFileSync(join(tmp, 'calib', `${i}.png`), await grayPng(rnd));
for (const c of ['0', '1', '2']) {
  mkdirSync(join(tmp, 'eval', c), { recursive: true });
  for (let i = 0; i < 3; i++) writeFileSync(join(tmp, 'eval', c, `${i}.png`), await grayPng(rnd));
}

const quantize = (model: string, out: string, ...extra: string[]) =>
  runCli([
    'quantize',
    '--model',
    join(tmp, model),
    '--calibration',
    join(tmp, 'calib'),
    '--preprocess',
    join(tmp, 'preprocess.json'),
    '--chip',
    'bm1684x',
    '--method',
    'max',
    '--out',
    join(tmp, out),
    ...extra,
  ]);
const lastLine = (s: string): string => s.trimEnd().split('\n').at(-1) ?? '';

t.test('verdict rule as data', async (t) => {
  const v = (data: number[]) => ({
    y: makeTensor('float32', [data.length], Float32Array.from(data)),
  });
  const cases = [
    { name: 'identical', ref: [1, 2, 3], test: [1, 2, 3], pass: true },
    { name: 'all zero INT8 output', ref: [1, 2, 3], test: [0, 0, 0], pass: false },
    { name: 'opposite sign', ref: [1, 2, 3], test: [-1, -2, -3], pass: false },
    { name: 'small noise', ref: [1, 2, 3], test: [1.01, 1.98, 3.02], pass: true },
  ];
  for (const c of cases) {
    const r = outputVerdict(['y'], [v(c.ref)], [v(c.test)]);
    t.equal(r.pass, c.pass, c.name);
    t.equal(r.outputs[0]!.pass, c.pass, `${c.name}: per output`);
  }
  // Over several images, one bad image among good ones still counts in the pooled measure.
  const two = outputVerdict(['y'], [v([1, 2, 3]), v([4, 5, 6])], [v([1, 2, 3]), v([0, 0, 0])]);
  t.equal(two.images, 2);
  t.equal(two.pass, false, 'a zeroed second image fails the euclidean rule');
  t.same(parseTolerance('0.99,0.9'), { cosine: 0.99, euclidean: 0.9 });
  for (const bad of ['0.9', 'a,b', '2,0.5', '0.9,0.5,1']) {
    t.throws(() => parseTolerance(bad), { code: 'BMF_ERR_USAGE' }, bad);
  }
});

t.test('a model that keeps its accuracy passes with exit 0', async (t) => {
  const r = await quantize('toy.onnx', 'ok');
  t.equal(r.code, 0, r.err);
  t.match(
    lastLine(r.out),
    /^verdict: PASS: every output within tolerance cosine 0\.8, euclidean 0\.5 over \d+ images$/,
  );
  const m = /FP32 (\d+\.\d+) ms, INT8 (\d+\.\d+) ms/.exec(r.out);
  t.ok(m, 'modeled FP32 and INT8 latency in the text output');
  t.ok(Number(m?.[1]) > 0 && Number(m?.[2]) > 0, 'both latencies positive');
  t.ok(existsSync(join(tmp, 'ok', 'toy_int8.bmodel')));
  const report = JSON.parse(readFileSync(join(tmp, 'ok', 'quantize_report.json'), 'utf8'));
  t.equal(report.verdict.pass, true);
  t.equal(report.verdict.bmodelWritten, true);
});

t.test('an output below tolerance fails and leaves the folder as it was', async (t) => {
  const out = join(tmp, 'bad');
  mkdirSync(out);
  const earlier = join(out, 'cancel_int8.bmodel');
  writeFileSync(earlier, 'an earlier BMODEL');
  const r = await quantize('cancel.onnx', 'bad');
  t.equal(r.code, 1);
  t.match(r.err, 'BMF_ERR_QUANTIZE_DEGRADED');
  t.match(r.err, 'output diff cosine');
  t.match(
    lastLine(r.out),
    /^verdict: FAIL: below tolerance cosine 0\.8, euclidean 0\.5 over \d+ images: diff cosine -?\d\.\d{6} .*; BMODEL not written$/,
  );
  t.equal(readFileSync(earlier, 'utf8'), 'an earlier BMODEL', 'the earlier BMODEL is untouched');
  t.notOk(existsSync(join(out, 'cali_table')), 'no tables describing an unwritten BMODEL');
  t.notOk(existsSync(join(out, 'quantize_report.json')));

  const strict = await quantize('toy.onnx', 'strict', '--tolerance', '1,1');
  t.equal(strict.code, 1, 'a tolerance no INT8 model reaches fails the toy model too');
  t.match(strict.err, 'BMF_ERR_QUANTIZE_DEGRADED');
});

t.test('--allow-degraded keeps the BMODEL and exits 2', async (t) => {
  const r = await quantize('cancel.onnx', 'kept', '--allow-degraded', '--json');
  t.equal(r.code, 2, r.err);
  const report = JSON.parse(r.out);
  t.equal(report.verdict.pass, false);
  t.equal(report.verdict.bmodelWritten, true);
  t.ok(report.verdict.outputs[0].cosine < 0.8, `cosine ${report.verdict.outputs[0].cosine}`);
  t.ok(existsSync(join(tmp, 'kept', 'cancel_int8.bmodel')));
  t.match(
    lastLine(readFileSync(join(tmp, 'kept', 'quantize_report.txt'), 'utf8')),
    /^verdict: FAIL: .*BMODEL kept \(--allow-degraded\)$/,
  );
});

t.test('automatic mode chooses on validation images and reports on held-out ones', async (t) => {
  const s = splitValidation([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  t.same(s.validation, [0, 2, 4, 6, 8]);
  t.same(s.heldOut, [1, 3, 5, 7]);
  t.same(splitValidation([7]), { validation: [7], heldOut: [7] });

  const r = await runCli([
    'quantize',
    '--model',
    join(tmp, 'toy.onnx'),
    '--calibration',
    join(tmp, 'calib'),
    '--eval',
    join(tmp, 'eval'),
    '--preprocess',
    join(tmp, 'preprocess.json'),
    '--chip',
    'bm1684x',
    '--out',
    join(tmp, 'auto'),
  ]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /: 4 held-out images \(table chosen by top-1 on 5 other validation images\)/);
  const report = JSON.parse(readFileSync(join(tmp, 'auto', 'quantize_report.json'), 'utf8'));
  t.same(report.evaluation, { validationImages: 5, heldOutImages: 4 });
  t.equal(report.accuracy.images, 4, 'reported accuracy is on the held-out images');
  t.ok(report.calibration.candidates.length > 1, 'several tables competed');
});
