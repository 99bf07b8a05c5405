// `npm run bench -- sim-precision`: CPU time per simulator inference of a BMODEL payload at FP32,
// BF16/FP16 with weights only rounded, and BF16/FP16 with activation stores emulated
// (controller/compile/half-activations.ts), against the FP32 payload measured in the same run.
// Then the demo's INT8 model (Fashion-MNIST quantized as `npm run demo` does it): its payload at
// onnxruntime's 'all' (Q/DQ fused into integer kernels, what the simulator ran before) against the
// level the simulator runs it at now (shared/simulator/graph-level.ts), alternated 3 times, with
// how far the two levels' outputs are apart on this host.
// CPU time (process.cpuUsage, one intra-op thread), not wall time: the machine is shared.
// Networks: the Fashion-MNIST example and MobileNetV2 when it can be generated.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { loadImageTensor } from '../controller/quantize/image-input.js';
import { quantizeModel } from '../controller/quantize/quantize-model.js';
import { locateMobileNetV2 } from '../examples/mobilenetv2/ensure.js';
import { readBmodel } from '../shared/bmodel/read.js';
import { simulatorPayload } from '../shared/bmodel/simulator.js';
import { parseAuthoredPreprocessSpec, type PreprocessSpec } from '../shared/preprocess/index.js';
import {
  simulatorGraphLevel,
  type GraphOptimizationLevel,
} from '../shared/simulator/graph-level.js';
import { makeTensor, type Tensor } from '../shared/tensor.js';

const RUNS = Number(process.env.BMFLEET_BENCH_RUNS ?? 30);

function sineFeeds(model: OnnxModel): Record<string, Tensor> {
  const [shape] = resolveInputShapes(model);
  const size = (shape ?? []).reduce((a, b) => a * b, 1);
  const x = makeTensor(
    'float32',
    [...(shape ?? [])],
    Float32Array.from({ length: size }, (_, i) => Math.sin(i)),
  );
  return { [graphInputs(model)[0]!.name]: x };
}

/** CPU ms per inference at `level` (default: the level the simulator picks for the payload). */
async function cpuMsPerRun(model: OnnxModel, level?: GraphOptimizationLevel): Promise<number> {
  const feeds = sineFeeds(model);
  const bytes = encodeOnnx(model);
  const s = await createOnnxSession(bytes, {
    graphOptimizationLevel: level ?? simulatorGraphLevel(bytes),
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

const EXAMPLE = new URL('../examples/fashion-mnist/', import.meta.url).pathname;

async function exampleSpec(): Promise<PreprocessSpec> {
  const authored = JSON.parse(await readFile(join(EXAMPLE, 'preprocess.json'), 'utf8')) as unknown;
  return parseAuthoredPreprocessSpec(authored).spec;
}

/** The demo's INT8 model (demo/models.ts: Fashion-MNIST, KL thresholds, bm1684x). */
async function demoInt8Payload(dir: string): Promise<Uint8Array> {
  const example = EXAMPLE;
  const q = await quantizeModel({
    modelPath: join(example, 'model.onnx'),
    calibrationDir: join(example, 'calibration'),
    chip: 'bm1684x',
    spec: await exampleSpec(),
    outDir: dir,
    method: 'kl',
  });
  if (!q.written) throw new Error('the demo INT8 model did not pass its verdict');
  return simulatorPayload(q.built.bmodel, readBmodel(q.built.bmodel));
}

/** Largest |logit| difference and top-1 changes between two levels on the eval images. */
async function levelsApart(
  payload: Uint8Array,
  a: GraphOptimizationLevel,
  b: GraphOptimizationLevel,
  perClass = 50,
): Promise<{ images: number; maxDiff: number; top1Changed: number }> {
  const spec = await exampleSpec();
  const [sa, sb] = await Promise.all(
    [a, b].map((level) =>
      createOnnxSession(payload, { graphOptimizationLevel: level, intraOpNumThreads: 1 }),
    ),
  );
  const top1 = (v: Float32Array) => v.indexOf(Math.max(...v));
  let images = 0;
  let maxDiff = 0;
  let top1Changed = 0;
  try {
    for (const cls of (await readdir(join(EXAMPLE, 'eval'))).sort()) {
      const files = (await readdir(join(EXAMPLE, 'eval', cls))).sort().slice(0, perClass);
      for (const f of files) {
        const x = await loadImageTensor(join(EXAMPLE, 'eval', cls, f), spec, 'eval');
        const ya = Object.values(await sa!.run({ input: x }))[0]?.data as Float32Array;
        const yb = Object.values(await sb!.run({ input: x }))[0]?.data as Float32Array;
        maxDiff = Math.max(maxDiff, ...ya.map((v, i) => Math.abs(v - (yb[i] ?? NaN))));
        if (top1(ya) !== top1(yb)) top1Changed++;
        images++;
      }
    }
  } finally {
    await Promise.all([sa?.release(), sb?.release()]);
  }
  return { images, maxDiff, top1Changed };
}

async function benchInt8(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bmfleet-sim-int8-'));
  try {
    const payload = await demoInt8Payload(dir);
    const model = loadOnnx(payload);
    const now = simulatorGraphLevel(payload);
    const fp32 = loadOnnx(
      await readFile(new URL('../examples/fashion-mnist/model.onnx', import.meta.url).pathname),
    );
    console.log(
      `fashion-mnist INT8 (demo): ${(model.graph.node ?? []).length} nodes; simulator level '${now}' against 'all' (before)`,
    );
    for (let r = 1; r <= 3; r++) {
      const before = await cpuMsPerRun(model, 'all');
      const after = await cpuMsPerRun(model, now);
      const float = await cpuMsPerRun(fp32);
      console.log(
        `  run ${r}: 'all' ${before.toFixed(3)} ms  '${now}' ${after.toFixed(3)} ms  x${(after / before).toFixed(2)} of 'all'  (FP32 payload ${float.toFixed(3)} ms)`,
      );
    }
    const apart = await levelsApart(payload, 'all', now);
    console.log(
      `  outputs on ${apart.images} eval images, 'all' vs '${now}' on this host: max |logit difference| ${apart.maxDiff.toFixed(3)}, top-1 changed on ${apart.top1Changed}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  if (process.argv[3] === 'int8') return benchInt8(); // `npm run bench -- sim-precision int8`
  await bench(
    'fashion-mnist',
    new URL('../examples/fashion-mnist/model.onnx', import.meta.url).pathname,
  );
  const mobilenet = await locateMobileNetV2();
  if (mobilenet.path === undefined) console.log(`mobilenetv2 skipped: ${mobilenet.reason}`);
  else await bench('mobilenetv2', mobilenet.path);
  await benchInt8();
}
