// `npm run bench -- sim-precision`: CPU time per simulator inference of a BMODEL payload at FP32,
// BF16/FP16 with weights only rounded, and BF16/FP16 with activation stores emulated
// (controller/compile/half-activations.ts), against the FP32 payload measured in the same run.
// CPU time (process.cpuUsage, one intra-op thread), not wall time: the machine is shared.
// Networks: the Fashion-MNIST example and MobileNetV2 when it can be generated.
import { readFile } from 'node:fs/promises';
import { emulateHalfActivations, emulatePrecision } from '../controller/compile/index.js';
import {
  createOnnxSession,
  describeGraph,
  encodeOnnx,
  graphInputs,
  loadOnnx,
  resolveInputShapes,
} from '../controller/onnx/index.js';
import type { OnnxModel } from '../controller/onnx/index.js';
import { locateMobileNetV2 } from '../examples/mobilenetv2/ensure.js';
import { makeTensor } from '../shared/tensor.js';

const RUNS = Number(process.env.BMFLEET_BENCH_RUNS ?? 30);

async function cpuMsPerRun(model: OnnxModel): Promise<number> {
  const [shape] = resolveInputShapes(model);
  const size = (shape ?? []).reduce((a, b) => a * b, 1);
  const x = makeTensor(
    'float32',
    [...(shape ?? [])],
    Float32Array.from({ length: size }, (_, i) => Math.sin(i)),
  );
  const feeds = { [graphInputs(model)[0]!.name]: x };
  const s = await createOnnxSession(encodeOnnx(model), {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 1,
  });
  try {
    for (let i = 0; i < 3; i++) await s.run(feeds);
    const start = process.cpuUsage();
    for (let i = 0; i < RUNS; i++) await s.run(feeds);
    const used = process.cpuUsage(start);
    return (used.user + used.system) / 1000 / RUNS;
  } finally {
    await s.release();
  }
}

async function bench(name: string, path: string): Promise<void> {
  const model = loadOnnx(await readFile(path), path);
  const nodes = await describeGraph(model);
  const base = await cpuMsPerRun(model);
  console.log(
    `${name}: ${(model.graph.node ?? []).length} nodes, FP32 ${base.toFixed(2)} ms CPU per inference`,
  );
  for (const precision of ['fp16', 'bf16'] as const) {
    const weights = emulatePrecision(model, precision);
    const full = emulatePrecision(
      emulateHalfActivations(model, nodes, precision, 'bm1684x').model,
      precision,
    );
    for (const [label, m] of [
      ['weights only', weights],
      ['weights + activations', full],
    ] as const) {
      const ms = await cpuMsPerRun(m);
      console.log(
        `  ${precision} ${label.padEnd(22)} ${String((m.graph.node ?? []).length).padStart(4)} nodes  ${ms.toFixed(2)} ms  x${(ms / base).toFixed(2)} of FP32`,
      );
    }
  }
}

export async function run(): Promise<void> {
  await bench(
    'fashion-mnist',
    new URL('../examples/fashion-mnist/model.onnx', import.meta.url).pathname,
  );
  const mobilenet = await locateMobileNetV2();
  if (mobilenet.path === undefined) console.log(`mobilenetv2 skipped: ${mobilenet.reason}`);
  else await bench('mobilenetv2', mobilenet.path);
}
