// `npm run bench -- calibrate`: calibration throughput (ranges + 2048-bin histograms of every
// activation + KL thresholds) on the Fashion-MNIST sample's 200 calibration images, against plain
// FP32 onnxruntime-node inference of the same preprocessed images in the same run (target ratio
// >= 0.5x). Apples to apples: image decode + preprocessing is done once beforehand and excluded
// from both sides (both are fed the very same tensors); both sides start from the model bytes and
// include session creation and release (calibration builds its own instrumented session each
// run). Plain inference runs one image per call as the model declares; calibration batches 16
// images per call when the model re-batches cleanly and shares the histograms with one worker
// thread on multi-core hosts (onnxruntime's own intra-op pool uses every core on both sides).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calibrationEntries, collectActivationStats } from '../controller/quantize/calibrate.js';
import { loadPreprocessSpecFile } from '../controller/quantize/cli-files.js';
import { readDataset } from '../controller/quantize/dataset.js';
import { loadDatasetInputs } from '../controller/quantize/inputs.js';
import { prepareModel } from '../controller/quantize/prepared-model.js';
import { createOnnxSession } from '../controller/onnx/index.js';

const DIR = join(import.meta.dirname, '..', 'examples', 'fashion-mnist');
const ROUNDS = Number(process.env.BMFLEET_BENCH_RUNS ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

export async function run(): Promise<void> {
  const modelPath = join(DIR, 'model.onnx');
  const bytes = await readFile(modelPath);
  const spec = await loadPreprocessSpecFile(undefined, modelPath);
  const set = await readDataset(join(DIR, 'calibration'), 'calibration');
  const inputs = (await loadDatasetInputs(set, spec)).map((x) => x.tensor);
  const pm = await prepareModel(bytes, modelPath);

  const plain = async (): Promise<void> => {
    const session = await createOnnxSession(bytes);
    try {
      for (const x of inputs) await session.run({ [pm.input.name]: x });
    } finally {
      await session.release();
    }
  };
  const calibrate = async (): Promise<void> => {
    calibrationEntries(await collectActivationStats(pm, inputs), 'kl');
  };
  await plain();
  await calibrate();
  const tPlain: number[] = [];
  const tCal: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = performance.now();
    await plain();
    tPlain.push(performance.now() - t0);
    t0 = performance.now();
    await calibrate();
    tCal.push(performance.now() - t0);
  }
  const plainRate = (inputs.length * 1000) / median(tPlain);
  const calRate = (inputs.length * 1000) / median(tCal);
  const ratio = calRate / plainRate;
  console.log(
    `calibrate: ${inputs.length} images, ${pm.activations.length} activation tensors, ${ROUNDS} rounds (median)`,
  );
  console.log(`  plain FP32 inference : ${plainRate.toFixed(0)} images/s`);
  console.log(`  calibration (kl)     : ${calRate.toFixed(0)} images/s`);
  console.log(
    `  ratio                : ${ratio.toFixed(2)}x (target >= 0.5x) ${ratio >= 0.5 ? 'OK' : 'BELOW TARGET'}`,
  );
}
