// Top-1 of the Fashion-MNIST model on the 2,000 eval images through simulator BMODELs at FP32,
// FP16 and BF16 (bmfleet compile --target sim), and through the same precisions with weights
// rounded but activations left FP32 (what the sim target emulated before activation stores),
// so the share of the change that activation rounding adds is visible. Prints top-1, the
// predictions changed against FP32 and the largest logit difference.
//
//   node --import tsx examples/fashion-mnist/precision.ts
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileModel, emulatePrecision } from '../../controller/compile/index.js';
import { createOnnxSession, encodeOnnx, loadOnnx } from '../../controller/onnx/index.js';
import { parseLabels, readDataset } from '../../controller/quantize/dataset.js';
import { readBmodel, simulatorPayload } from '../../shared/bmodel/index.js';
import { parsePreprocessSpec, preprocessImage } from '../../shared/preprocess/index.js';
import type { Tensor } from '../../shared/tensor.js';

const here = new URL('./', import.meta.url).pathname;
const modelPath = join(here, 'model.onnx');
const spec = parsePreprocessSpec(
  JSON.parse(await readFile(join(here, 'preprocess.json'), 'utf8')) as object,
);
const labels = parseLabels(await readFile(join(here, 'labels.txt'), 'utf8'));
const data = await readDataset(join(here, 'eval'), 'eval', labels);
const inputs: Tensor[] = [];
for (const item of data.items) inputs.push(await preprocessImage(await readFile(item.path), spec));

const out = await mkdtemp(join(tmpdir(), 'fm-precision-'));
const payloads: [string, Uint8Array][] = [];
try {
  for (const precision of ['fp32', 'fp16', 'bf16'] as const) {
    const r = await compileModel({
      modelPath,
      chip: 'bm1684x',
      precision,
      preprocess: spec,
      outDir: join(out, precision),
    });
    const file = new Uint8Array(await readFile(r.bmodelPath));
    payloads.push([`${precision} BMODEL`, simulatorPayload(file, readBmodel(file))]);
    if (precision !== 'fp32') {
      const weightsOnly = emulatePrecision(loadOnnx(await readFile(modelPath)), precision);
      payloads.push([`${precision} weights only`, encodeOnnx(weightsOnly)]);
    }
  }
} finally {
  await rm(out, { recursive: true, force: true });
}

const argmax = (v: Float32Array): number => v.reduce((b, x, i) => (x > v[b]! ? i : b), 0);
const logits: Float32Array[][] = [];
for (const [, payload] of payloads) {
  const s = await createOnnxSession(payload, { graphOptimizationLevel: 'all' });
  const rows: Float32Array[] = [];
  for (const x of inputs) rows.push((await s.run({ input: x }))['logits']!.data as Float32Array);
  await s.release();
  logits.push(rows);
}
const reference = logits[0]!;
const pct = (k: number): string => `${((100 * k) / inputs.length).toFixed(2)} %`;
console.log(`${inputs.length} eval images, chip bm1684x, sim target`);
for (const [k, [name]] of payloads.entries()) {
  let hits = 0;
  let changed = 0;
  let maxDiff = 0;
  for (const [i, row] of logits[k]!.entries()) {
    const p = argmax(row);
    hits += Number(p === data.items[i]!.label);
    changed += Number(p !== argmax(reference[i]!));
    for (let j = 0; j < row.length; j++)
      maxDiff = Math.max(maxDiff, Math.abs(row[j]! - reference[i]![j]!));
  }
  console.log(
    `  ${name.padEnd(18)} top-1 ${pct(hits)}  predictions changed vs FP32 ${String(changed).padStart(3)}  max |logit - FP32| ${maxDiff.toExponential(2)}`,
  );
}
