// `npm run bench -- calibrate`: calibration throughput (ranges + 2048-bin histograms of every
// activation + KL thresholds) on the Fashion-MNIST sample's 200 calibration images, against plain
// FP32 onnxruntime-node inference of the same preprocessed images in the same run (target ratio
// >= 0.5x). Apples to apples: image decode + preprocessing is done once beforehand and excluded
// from both sides (both are fed the very same tensors); both sides start from the model bytes and
// include session creation and release (calibration builds its own instrumented session each
// run). Plain inference runs one image per call as the model declares; calibration batches 16
// images per call when the model re-batches cleanly.
//
// Two baselines: plain inference with onnxruntime's default session options (what a user gets;
// the target's baseline) and with one intra-op thread, the setting calibration itself uses
// (calibrate.ts explains why), so the like-for-like cost of the statistics is visible too. CPU time
// (all threads) is printed beside wall time: on a shared host it shows the work, not the wait.
//
// Then, when examples/mobilenetv2 is available, the same comparison on MobileNetV2 (16 images;
// 7 M activation values per image against ~5 ms of inference): not the target's sample, printed
// so the cost on a realistically sized model is visible.
import { readFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import {
  calibrationBatch,
  calibrationEntries,
  collectActivationStats,
} from '../controller/quantize/calibrate.js';
import { nativeKernels } from '../controller/quantize/native.js';
import { locateMobileNetV2 } from '../examples/mobilenetv2/ensure.js';
import { makeTensor, type Tensor } from '../shared/tensor.js';
import { loadPreprocessSpecFile } from '../controller/quantize/cli-files.js';
import { readDataset } from '../controller/quantize/dataset.js';
import { loadDatasetInputs } from '../controller/quantize/inputs.js';
import { prepareModel } from '../controller/quantize/prepared-model.js';
import { createOnnxSession, type OnnxSessionOptions } from '../controller/onnx/index.js';
import { runResnet50 } from './calibrate-resnet50.js';

const DIR = join(import.meta.dirname, '..', 'examples', 'fashion-mnist');
const ROUNDS = Number(process.env.BMFLEET_BENCH_RUNS ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

export async function run(): Promise<void> {
  console.log(
    `histogram and range kernels: ${nativeKernels() ? 'native (native/histogram.cc)' : 'JavaScript (run npm run build:native for the native ones)'}`,
  );
  const modelPath = join(DIR, 'model.onnx');
  const spec = await loadPreprocessSpecFile(undefined, modelPath);
  const set = await readDataset(join(DIR, 'calibration'), 'calibration');
  const inputs = (await loadDatasetInputs(set, spec)).map((x) => x.tensor);
  await compare('Fashion-MNIST sample', modelPath, inputs, ROUNDS, true);
  await runResnet50();
  const mobile = await locateMobileNetV2();
  if (!mobile.path) {
    console.log(`MobileNetV2 comparison skipped: ${'reason' in mobile ? mobile.reason : '?'}`);
    return;
  }
  // Smooth synthetic images: the statistics' cost does not depend on what the pixels show.
  const images = Array.from({ length: 16 }, (_, k) =>
    makeTensor(
      'float32',
      [1, 3, 224, 224],
      Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i * 0.001 * (k + 1))),
    ),
  );
  await compare('MobileNetV2 (random weights; informational)', mobile.path, images, 2, false);
}

async function compare(
  label: string,
  modelPath: string,
  inputs: readonly Tensor[],
  rounds: number,
  target: boolean,
): Promise<void> {
  const bytes = await readFile(modelPath);
  const pm = await prepareModel(bytes, modelPath);

  const plain = (options: OnnxSessionOptions) => async (): Promise<void> => {
    const session = await createOnnxSession(bytes, options);
    try {
      for (const x of inputs) await session.run({ [pm.input.name]: x });
    } finally {
      await session.release();
    }
  };
  const sides: Record<string, () => Promise<unknown>> = {
    'plain FP32 inference (default options)': plain({}),
    'plain FP32 inference (1 intra-op thread)': plain({ intraOpNumThreads: 1 }),
    'calibration (kl)': async () =>
      calibrationEntries(await collectActivationStats(pm, inputs), 'kl'),
  };
  const wall = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  for (const f of Object.values(sides)) await f();
  // Interleaved rounds so a change of host load hits every side alike.
  for (let r = 0; r < rounds; r++) {
    for (const [name, f] of Object.entries(sides)) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await f();
      const t = performance.now() - t0;
      const c = process.cpuUsage(c0);
      push(wall, name, t);
      push(cpu, name, (c.user + c.system) / 1000);
    }
  }
  console.log(
    `calibrate, ${label}: ${inputs.length} images, ${pm.activations.length} activation tensors (${pm.calibrated.length} measured, the others share their thresholds as tpu-mlir lowers them; ${calibrationBatch(pm)} images per call), ${rounds} rounds (median; min in brackets), load average ${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} cores`,
  );
  for (const name of Object.keys(sides)) {
    const rate = (inputs.length * 1000) / median(wall.get(name)!);
    const best = (inputs.length * 1000) / Math.min(...wall.get(name)!);
    console.log(
      `  ${name.padEnd(42)}: ${rate.toFixed(0)} images/s (${best.toFixed(0)}), CPU ${median(cpu.get(name)!).toFixed(0)} ms`,
    );
  }
  const cal = wall.get('calibration (kl)')!;
  for (const base of Object.keys(sides).slice(0, 2)) {
    const b = wall.get(base)!;
    const ratio = median(b) / median(cal);
    const verdict = !target
      ? '(no target)'
      : ratio >= 0.5
        ? '(target >= 0.5x) OK'
        : '(target >= 0.5x) BELOW TARGET';
    console.log(
      `  ratio vs ${base.padEnd(42)}: ${ratio.toFixed(2)}x (${(Math.min(...b) / Math.min(...cal)).toFixed(2)}x) ${verdict}`,
    );
  }
}

function push(m: Map<string, number[]>, key: string, v: number): void {
  const list = m.get(key) ?? [];
  list.push(v);
  m.set(key, list);
}
