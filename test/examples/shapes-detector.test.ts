// The committed shapes detector (examples/shapes-detector) end to end through the controller:
// `bmfleet quantize --decoder` reports FP32 and INT8 mAP on the committed eval images with boxes,
// `bmfleet package` puts a boxed golden set and an mAP gate into the INT8 bundle, and the agent's
// activation gate scores that golden set with the same decoder (passing on the bundle's own
// outputs, failing on outputs that find nothing).
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { checkMapDrop, packBundle } from '../../controller/package/pack.js';
import { readBoxDataset } from '../../controller/quantize/box-dataset.js';
import { parseLabels } from '../../controller/quantize/dataset.js';
import { quantizeModel } from '../../controller/quantize/quantize-model.js';
import { scoreGate } from '../../agent/serve/gate.js';
import { parseGoldenFile } from '../../agent/serve/golden-file.js';
import { manifestDecoder, parseBundleManifest } from '../../shared/bundle/manifest.js';
import { isDetector, parseDecoderSpec, type MapResult } from '../../shared/detect/index.js';
import { isBmfError } from '../../shared/errors.js';
import { parseAuthoredPreprocessSpec, parsePreprocessSpec } from '../../shared/preprocess/index.js';
import { makeTensor } from '../../shared/tensor.js';

const DIR = fileURLToPath(new URL('../../examples/shapes-detector/', import.meta.url));
const file = (name: string) => join(DIR, name);
const json = async (name: string) => JSON.parse(await readFile(file(name), 'utf8')) as unknown;

t.test('sidecars and data: a small model, boxes in both formats agree', async (t) => {
  const size = (await stat(file('model.onnx'))).size;
  t.ok(size < 2_000_000, `model.onnx is ${size} bytes`);
  const decoder = parseDecoderSpec(await json('decoder.json'));
  t.ok(isDetector(decoder));
  const yolo = await readBoxDataset(file('eval'), 'eval');
  const coco = await readBoxDataset(file('eval'), 'eval', file('eval/boxes.json'));
  t.equal(yolo.length, 60, '60 eval images');
  t.ok(yolo.every((x) => x.image.width === 192 && x.image.height === 144));
  yolo.forEach((y, i) => {
    const c = coco[i]!;
    t.equal(y.image.boxes.length, c.image.boxes.length, `${y.path}: box count`);
    y.image.boxes.forEach((b, j) => {
      const o = c.image.boxes[j]!;
      t.equal(b.classId, o.classId);
      // YOLO txt keeps 6 decimals of normalised values, COCO 3 decimals of pixels.
      b.box.forEach((v, k) => t.ok(Math.abs(v - o.box[k]!) < 0.01, `${y.path} box ${j}.${k}`));
    });
  });
});

t.test('quantize reports FP32 and INT8 mAP; package gates the INT8 bundle on it', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'bmf-shapes-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const decoder = parseDecoderSpec(await json('decoder.json'));
  if (!isDetector(decoder)) throw new Error('decoder.json is not a detector');
  const spec = parsePreprocessSpec(await json('preprocess.json'));
  const labels = parseLabels(await readFile(file('labels.txt'), 'utf8'));
  const q = await quantizeModel({
    modelPath: file('model.onnx'),
    calibrationDir: file('calibration'),
    evalDir: file('eval'),
    chip: 'bm1684x',
    spec,
    labels,
    decoder,
    outDir: join(work, 'int8'),
    method: 'max',
  });
  const d = q.report.detection;
  if (!d) throw new Error('no detection report');
  t.equal(d.images, 60);
  t.equal(d.boxes, 143);
  // Figures of the committed model (README): FP32 AP50-95 0.36, AP50 0.47; INT8 within 0.03.
  t.ok(d.mapFp32 > 0.35 && d.mapFp32 < 0.48, `FP32 mAP ${d.mapFp32}`);
  t.ok(d.map50Fp32 > 0.45, `FP32 AP50 ${d.map50Fp32}`);
  t.ok(Math.abs(d.mapInt8 - d.mapFp32) < 0.03, `INT8 mAP ${d.mapInt8} vs FP32 ${d.mapFp32}`);
  t.same(
    d.perClass.map((c) => c.name),
    labels,
  );
  t.match(q.text, /mAP@\[\.5:\.95\] FP32: 0\.\d{4} {3}INT8: 0\.\d{4}/);

  const golden = (await readBoxDataset(file('eval'), 'eval'))
    .slice(0, 16)
    .map((b) => ({ path: b.path, boxes: b.image }));
  const outDir = join(work, 'bundle');
  const manifest = await packBundle({
    bmodelPath: q.files.bmodel,
    name: 'shapes',
    version: '1.0.0',
    sequence: 2,
    chips: ['bm1684x'],
    precision: 'int8',
    preprocess: parseAuthoredPreprocessSpec(await json('preprocess.json')),
    labelsPath: file('labels.txt'),
    decoder: await json('decoder.json'),
    golden,
    referenceModelPath: file('model.onnx'),
    maxMapDrop: 0.05,
    provenance: {
      sourceModelSha256: '0'.repeat(64),
      toolchain: 'bmfleet-sim',
      toolchainVersion: '0.1.0',
    },
    outDir,
    now: new Date('2026-01-01T00:00:00Z'),
  });
  const figures = manifest.metadata['goldenMap'] as {
    map: number;
    reference: { map: number };
  };
  t.ok(figures.map > 0.2, `golden mAP ${figures.map}`);
  t.ok(Math.abs(figures.map - figures.reference.map) < 0.05, 'INT8 vs FP32 on the golden set');
  t.ok(
    Math.abs((manifest.golden?.expectedMap ?? -1) - (figures.map - 0.02)) < 1e-5,
    'gate = mAP - margin',
  );

  // The agent's gate on the bundle's golden set, decoded with the bundle's own decoder.
  const read = parseBundleManifest(await readFile(join(outDir, 'manifest.json')));
  const entry = read.files.find((f) => f.role === 'golden');
  if (!entry) throw new Error('no golden file');
  const goldenSet = parseGoldenFile(await readFile(join(outDir, 'blobs', entry.sha256)));
  t.equal(goldenSet.boxes?.length, 16);
  const det = manifestDecoder(read);
  if (!isDetector(det)) throw new Error('manifest decoder is not a detector');
  const gate = {
    minAccuracy: 0,
    minCosine: 0.999,
    map: {
      min: read.golden?.expectedMap ?? 1,
      decoder: det,
      preprocess: spec,
    },
  };
  const own = goldenSet.referenceOutputs ?? [];
  const pass = scoreGate(goldenSet, own, gate);
  t.ok(pass.passed, pass.reasons.join('; '));
  t.ok(
    Math.abs((pass.map ?? -1) - figures.map) < 1e-5,
    `gate mAP ${pass.map} = packed ${figures.map}`,
  );
  // Outputs whose objectness is all "nothing here": no detections, mAP 0, the gate refuses.
  const blank = own.map((o) =>
    Object.fromEntries(
      Object.entries(o).map(([k, v]) => [
        k,
        makeTensor('float32', v.shape, new Float32Array(v.data.length).fill(-20)),
      ]),
    ),
  );
  const fail = scoreGate(goldenSet, blank, { ...gate, minCosine: -1 });
  t.notOk(fail.passed);
  t.equal(fail.map, 0);
  t.match(fail.reasons.join(';'), /golden mAP 0\.0000 below/);
});

t.test('the golden check refuses an mAP drop beyond the limit', async (t) => {
  const m = (map: number): MapResult => ({ map, map50: map, map75: map, perClass: [] });
  t.doesNotThrow(() => checkMapDrop(m(0.4), m(0.42), 0.05));
  t.doesNotThrow(() => checkMapDrop(m(0.4), m(0.42), undefined));
  const err = (() => {
    try {
      checkMapDrop(m(0.3), m(0.42), 0.05);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  t.ok(isBmfError(err, 'BMF_ERR_GOLDEN_MAP_DROP'), String(err));
  t.throws(() => checkMapDrop(m(0.3), undefined, 0.05), { code: 'BMF_ERR_USAGE' });
});
