// End to end on the committed Fashion-MNIST sample (examples/fashion-mnist): automatic mode must
// keep INT8 top-1 within 0.5 points of FP32 on the 2,000 eval images with output cosine >= 0.99;
// the step-by-step path must react to a one-threshold edit.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSimulatorBmodel, readBmodel, simulatorPayload } from '../../../shared/bmodel/index.js';
import { cosineSimilarity } from '../../../shared/stats/similarity.js';
import { loadLabelsFile, loadPreprocessSpecFile } from '../../../controller/quantize/cli-files.js';
import { readDataset } from '../../../controller/quantize/dataset.js';
import { loadDatasetInputs } from '../../../controller/quantize/inputs.js';
import { quantizeModel, readModelFile } from '../../../controller/quantize/quantize-model.js';
import { runOutputs } from '../../../controller/quantize/score.js';
import { exportUmodel, loadUmodel } from '../../../controller/quantize/umodel.js';
import {
  buildUmodel,
  calibrateUmodel,
  evaluateUmodel,
} from '../../../controller/quantize/umodel-steps.js';

const DIR = new URL('../../../examples/fashion-mnist/', import.meta.url).pathname;
const MODEL = join(DIR, 'model.onnx');
const out = mkdtempSync(join(tmpdir(), 'bmf-quantize-fmnist-'));
const fixedTime = () => new Date('2026-01-01T00:00:00Z');

if (!existsSync(MODEL)) {
  t.fail(`${MODEL} is missing: run examples/fashion-mnist/train.py`);
} else {
  const spec = await loadPreprocessSpecFile(undefined, MODEL);
  const labels = await loadLabelsFile(undefined, MODEL);

  t.test('automatic mode meets the accuracy targets', async (t) => {
    const r = await quantizeModel({
      modelPath: MODEL,
      calibrationDir: join(DIR, 'calibration'),
      evalDir: join(DIR, 'eval'),
      chip: 'bm1684x',
      spec,
      ...(labels ? { labels } : {}),
      outDir: join(out, 'auto'),
      method: 'auto',
      now: fixedTime,
    });
    const acc = r.report.accuracy!;
    t.equal(acc.images, 1000, 'top-1 reported on the held-out half of the 2,000 eval images');
    t.same(r.report.evaluation, { validationImages: 1000, heldOutImages: 1000 });
    t.equal(r.verdict.pass, true);
    t.match(r.text, /^verdict: PASS/m);
    const drop = 100 * (acc.top1Fp32! - acc.top1Int8!);
    t.ok(
      drop <= 0.5,
      `top-1 FP32 ${acc.top1Fp32} INT8 ${acc.top1Int8}: drop ${drop.toFixed(2)} pt <= 0.5`,
    );
    t.ok(acc.meanOutputCosine >= 0.99, `mean output cosine ${acc.meanOutputCosine} >= 0.99`);
    t.equal(acc.perClass.length, 10);
    t.equal(acc.perClass[0]!.name, 'T-shirt/top');
    const bytes = readFileSync(r.files.bmodel);
    const b = readBmodel(bytes);
    t.ok(isSimulatorBmodel(b), 'a simulator BMODEL');
    t.equal(b.chip, 'BM1684X');
    t.same(b.nets[0]!.stages[0]!.inputs[0]!.shape, [1, 1, 28, 28]);
    const payload = simulatorPayload(bytes, b);
    t.ok(
      payload.length > 0 && payload.length < 200_000,
      `payload ${payload.length} bytes (int8 weights)`,
    );
    const text = readFileSync(r.files.calibrationTable, 'utf8');
    t.match(text, /^input \d+\.\d{7} -?\d+\.\d{7} \d+\.\d{7}$/m);
    t.ok(readFileSync(r.files.reportText, 'utf8').includes('top-1 INT8'));
  });

  t.test('step by step: export, calibrate, edit, evaluate, build', async (t) => {
    const uDir = join(out, 'model.fp32umodel');
    await exportUmodel({
      modelPath: MODEL,
      modelBytes: await readModelFile(MODEL),
      spec,
      ...(labels ? { labels } : {}),
      name: 'fmnist',
      outDir: uDir,
    });
    const u = await loadUmodel(uDir);
    t.same(u.manifest.foldedBatchNorms.length, 3, 'three BatchNorms folded');
    const cal = await calibrateUmodel(u, {
      calibrationDir: join(DIR, 'calibration'),
      method: 'kl',
      outDir: join(out, 'cal'),
      now: fixedTime,
    });
    t.equal(cal.run.ranking?.length, u.prepared.layers.filter((l) => l.int8Capable).length);
    const build = (table: string, dir: string) =>
      buildUmodel(u, {
        caliTablePath: table,
        chip: 'bm1684x',
        outDir: join(out, dir),
        now: fixedTime(),
      });
    const a = await build(cal.files.calibrationTable, 'build-a');
    const again = await build(cal.files.calibrationTable, 'build-a2');
    t.equal(again.sha256, a.sha256, 'same tables and time give the same bytes');

    // Edit one threshold: the first conv layer's output, cut to a tenth.
    const layer = u.prepared.layers[0]!.name;
    const edited = join(out, 'cal', 'cali_table.edited');
    const lines = readFileSync(cal.files.calibrationTable, 'utf8').split('\n');
    writeFileSync(
      edited,
      lines
        .map((l) => {
          const f = l.split(' ');
          return f[0] === layer ? [f[0], (Number(f[1]) / 10).toFixed(7), f[2], f[3]].join(' ') : l;
        })
        .join('\n'),
    );
    const b = await build(edited, 'build-b');
    t.not(b.sha256, a.sha256, 'the edited threshold changes the BMODEL bytes');
    const set = await readDataset(join(DIR, 'calibration'), 'calibration');
    const inputs = (await loadDatasetInputs(set, spec, undefined, 5)).map((x) => x.tensor);
    const pa = simulatorPayload(a.bmodel, readBmodel(a.bmodel));
    const pb = simulatorPayload(b.bmodel, readBmodel(b.bmodel));
    const oa = await runOutputs(pa, 'input', inputs);
    const ob = await runOutputs(pb, 'input', inputs);
    const cos = cosineSimilarity(oa[0]!.logits!, ob[0]!.logits!);
    t.ok(cos < 0.99999, `the edited model computes different outputs (cosine ${cos})`);

    // Keep the classifier in F32 through the quantize table, then evaluate.
    const qtable = join(out, 'cal', 'qtable.edited');
    const last = u.prepared.layers.at(-1)!.name;
    writeFileSync(qtable, `# keep the last layer in float\n${last} F32\n`);
    const ev = await evaluateUmodel(u, {
      caliTablePath: cal.files.calibrationTable,
      qtablePath: qtable,
      evalDir: join(DIR, 'eval'),
      similarityImages: 10,
    });
    t.equal(ev.accuracy.images, 2000);
    t.ok(ev.accuracy.agreement > 0.97, `agreement ${ev.accuracy.agreement}`);
    t.equal(ev.layers.find((l) => l.tensor === last)?.precision, 'F32');
    t.ok(
      ev.layers.every((l) => l.cosine > 0.9),
      'every layer similar to FP32',
    );
    t.match(ev.text, /SQNR DB/);
  });
}
