// ResNet-50 (torchvision layout, random weights: the work does not depend on weight values) through
// `bmfleet quantize --method auto` on 100 calibration images, the case issue 15 measured at 18.5
// minutes for 55 images. The images are real photographs (BMFLEET_PHOTO_DIR) and, when fewer than
// 100 exist, their mirrored, cropped and rotated variants. Baseline in the same run: plain FP32
// onnxruntime inference of the same 100 preprocessed images. Generated files go to bench/out/.
//
// BMFLEET_BENCH_RESNET50_BASELINE=1 also runs the calibration step (statistics + automatic
// threshold search) both ways in the same process: candidates scored on their changed suffix (the
// default) and on whole-graph runs with onnxruntime's defaults (the search before suffixes), and
// prints the time of each, their ratio, and how good each selected table is on the held-out
// calibration images the search did not score (cosine to FP32, top-1 agreement with FP32).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createOnnxSession } from '../controller/onnx/index.js';
import { parseCalibrationTable } from '../controller/quantize/calibration-table.js';
import { readDataset } from '../controller/quantize/dataset.js';
import { runCalibration } from '../controller/quantize/calibration-run.js';
import { evaluateAccuracy } from '../controller/quantize/evaluate.js';
import { loadDatasetInputs, splitHeldOut } from '../controller/quantize/inputs.js';
import { buildInt8Graph } from '../controller/quantize/qdq.js';
import { SEARCH_IMAGES } from '../controller/quantize/calibration-run.js';
import type { ScoringMode } from '../controller/quantize/suffix-scorer.js';
import type { Progress } from '../controller/quantize/calibrate.js';
import type { PreparedModel } from '../controller/quantize/prepared-model.js';
import type { Tensor } from '../shared/tensor.js';
import { prepareModel } from '../controller/quantize/prepared-model.js';
import { quantizeModel, readModelFile } from '../controller/quantize/quantize-model.js';
import { parsePreprocessSpec, type PreprocessSpec } from '../shared/preprocess/index.js';

const ROOT = join(import.meta.dirname, '..');
const OUT = join(ROOT, 'bench', 'out', 'calibrate');
const PHOTOS = process.env.BMFLEET_PHOTO_DIR ?? '/var/cache/bmfleet-testdata/photos';
const IMAGES = 100;
const RUNS = Number(process.env.BMFLEET_BENCH_RESNET50_RUNS ?? 1);
const BASELINE = process.env.BMFLEET_BENCH_RESNET50_BASELINE === '1';

const cpuSeconds = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1e6;

/**
 * Wall and CPU seconds per progress stage of one quantize run (CPU of every thread of the process:
 * onnxruntime's and workers' included), and the 1-minute load average sampled every 5 s, so a
 * run on a quiet host can be told from one on a loaded host. The load average counts this
 * process's own busy threads too (up to the 2 cores it uses).
 */
function createPhaseClock() {
  const phases = new Map<string, { wall: number; cpu: number }>();
  let stage = 'prepare model';
  let t = performance.now();
  let c = process.cpuUsage();
  const loads = [loadavg()[0]!];
  const sampler = setInterval(() => loads.push(loadavg()[0]!), 5000);
  sampler.unref();
  const close = (): void => {
    const now = performance.now();
    const used = process.cpuUsage(c);
    const p = phases.get(stage) ?? { wall: 0, cpu: 0 };
    phases.set(stage, { wall: p.wall + (now - t) / 1000, cpu: p.cpu + cpuSeconds(used) });
    t = now;
    c = process.cpuUsage();
  };
  return {
    onProgress(p: Progress): void {
      if (p.stage === stage) return;
      close();
      stage = p.stage;
    },
    finish() {
      close();
      clearInterval(sampler);
      loads.push(loadavg()[0]!);
      const mean = loads.reduce((a, b) => a + b, 0) / loads.length;
      return { phases, load: { mean, min: Math.min(...loads), max: Math.max(...loads) } };
    },
  };
}

/** Statistics + search one way; the selected table judged on held-out images it did not score. */
async function calibrateWith(pm: PreparedModel, inputs: readonly Tensor[], scoring: ScoringMode) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const run = await runCalibration(pm, inputs, { method: 'auto', scoring });
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(process.cpuUsage(c0));
  const unseen = splitHeldOut(inputs).heldOut.slice(SEARCH_IMAGES);
  const graph = buildInt8Graph(pm.model, pm.layers, {
    thresholds: new Map(run.entries.map((e) => [e.name, e.threshold])),
  });
  const quality = await evaluateAccuracy(
    pm,
    graph,
    unseen.map((tensor) => ({ tensor })),
  );
  return { run, wall, cpu, quality, unseen: unseen.length };
}

async function baseline(pm: PreparedModel, inputs: readonly Tensor[]): Promise<void> {
  const ways = {
    suffix: await calibrateWith(pm, inputs, 'suffix'),
    whole: await calibrateWith(pm, inputs, 'fused'),
  };
  for (const [name, w] of Object.entries(ways)) {
    console.log(
      `  calibration step, candidates scored on ${name === 'suffix' ? 'their changed suffix' : 'whole-graph runs (previous search)'}: ${w.wall.toFixed(1)} s, CPU ${w.cpu.toFixed(1)} s, ${w.run.search?.evaluations ?? 0} candidates (mean share of the graph run ${(w.run.search?.meanSuffixShare ?? 1).toFixed(2)}); selected table on ${w.unseen} unscored held-out images: mean output cosine ${w.quality.meanOutputCosine.toFixed(5)} (min ${w.quality.minOutputCosine.toFixed(5)}), top-1 agreement with FP32 ${(w.quality.agreement * 100).toFixed(1)} %`,
    );
  }
  const differ = [...ways.suffix.run.methods].filter(
    ([n, m]) => ways.whole.run.methods.get(n) !== m,
  );
  console.log(
    `  ratio whole / suffix: wall ${(ways.whole.wall / ways.suffix.wall).toFixed(2)}x, CPU ${(ways.whole.cpu / ways.suffix.cpu).toFixed(2)}x; tensors whose selected method differs: ${differ.length} of ${ways.suffix.run.methods.size}; cosine difference suffix - whole ${(ways.suffix.quality.meanOutputCosine - ways.whole.quality.meanOutputCosine).toExponential(2)}`,
  );
}

/** The vendor ResNet demo's ImageNet preprocessing at 224x224. */
const SPEC: PreprocessSpec = parsePreprocessSpec({
  resize_dims: [224, 224],
  pixel_format: 'rgb',
  channel_format: 'nchw',
  mean: [123.675, 116.28, 103.53],
  scale: [0.0171, 0.0175, 0.0174],
  output: { dtype: 'float32' },
});

function model(): string | { skip: string } {
  const path = join(OUT, 'resnet50.onnx');
  if (existsSync(path)) return path;
  const python = process.env.BMFLEET_PYTHON ?? '/usr/bin/python3';
  const r = spawnSync(python, [join(ROOT, 'bench/cost/make_onnx.py'), OUT, 'resnet50'], {
    stdio: 'inherit',
  });
  return r.status === 0 ? path : { skip: `${python} could not build it (needs python3-torch)` };
}

async function calibrationImages(): Promise<string | { skip: string }> {
  const dir = join(OUT, 'photos');
  if (existsSync(dir) && readdirSync(dir).length >= IMAGES) return dir;
  if (!existsSync(PHOTOS)) return { skip: `photo folder ${PHOTOS} is missing (BMFLEET_PHOTO_DIR)` };
  const sources: string[] = [];
  for (const f of readdirSync(PHOTOS).sort()) {
    const m = await sharp(join(PHOTOS, f))
      .metadata()
      .catch(() => undefined);
    if (m?.width && m.height && Math.min(m.width, m.height) >= 64) sources.push(join(PHOTOS, f));
  }
  if (sources.length === 0) return { skip: `no photographs in ${PHOTOS}` };
  mkdirSync(dir, { recursive: true });
  for (let k = 0; k < IMAGES; k++) {
    const src = sources[k % sources.length]!;
    const variant = Math.floor(k / sources.length);
    let img = sharp(src).removeAlpha().toColourspace('srgb');
    if (variant === 1) img = img.flop();
    else if (variant >= 2) img = img.rotate(7 * variant, { background: '#808080' });
    await img
      .resize(256, 256, { fit: 'fill' })
      .jpeg({ quality: 92 })
      .toFile(join(dir, `${String(k).padStart(3, '0')}.jpg`));
  }
  return dir;
}

export async function runResnet50(): Promise<void> {
  const path = model();
  const images = await calibrationImages();
  if (typeof path !== 'string' || typeof images !== 'string') {
    const why = typeof path !== 'string' ? path.skip : (images as { skip: string }).skip;
    console.log(`ResNet-50 quantize --method auto skipped: ${why}`);
    return;
  }
  const bytes = await readModelFile(path);
  const pm = await prepareModel(bytes, path);
  const inputs = (await loadDatasetInputs(await readDataset(images, 'calibration'), SPEC)).map(
    (x) => x.tensor,
  );
  const plain = async (): Promise<number> => {
    const t0 = performance.now();
    const session = await createOnnxSession(bytes);
    try {
      for (const x of inputs) await session.run({ [pm.input.name]: x });
    } finally {
      await session.release();
    }
    return performance.now() - t0;
  };
  const tablePath = join(OUT, 'quantized', 'cali_table');
  for (let r = 0; r < RUNS; r++) {
    const previous = await readTable(tablePath);
    const base = await plain();
    const startLoad = loadavg()[0]!;
    const clock = createPhaseClock();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const result = await quantizeModel({
      onProgress: clock.onProgress,
      modelPath: path,
      calibrationDir: images,
      chip: 'bm1684x',
      spec: SPEC,
      outDir: join(OUT, 'quantized'),
      method: 'auto',
      allowDegraded: true,
    });
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const { phases, load } = clock.finish();
    const search = result.report.calibration.search;
    console.log(
      `calibrate, ResNet-50 quantize --method auto (${IMAGES} images: ${result.report.calibration.images} calibration, ${result.report.calibration.heldOutImages} held out; ${search?.evaluations ?? 0} search candidates), run ${r + 1}/${RUNS}, ${availableParallelism()} cores`,
    );
    // The load average counts this run's own busy threads (about CPU / wall of them).
    const others = Math.max(0, load.mean - cpuSeconds(c) / (wall / 1000));
    console.log(
      `  load average (1 min) during the run: at start ${startLoad.toFixed(2)}, mean ${load.mean.toFixed(2)}, min ${load.min.toFixed(2)}, max ${load.max.toFixed(2)}; other jobs' share of it about ${others.toFixed(1)} on ${availableParallelism()} cores (${others > 0.5 ? 'wall time includes waiting for the cores' : 'quiet host'})`,
    );
    console.log(
      `  quantize --method auto: wall ${(wall / 1000).toFixed(1)} s (target <= 180 s ${wall <= 180_000 ? 'OK' : 'NOT MET'}), CPU ${cpuSeconds(c).toFixed(1)} s (user+sys, all threads; CPU / wall ${(cpuSeconds(c) / (wall / 1000)).toFixed(2)}; wall on an idle ${availableParallelism()}-core host is at least CPU / ${availableParallelism()} = ${(cpuSeconds(c) / availableParallelism()).toFixed(1)} s)`,
    );
    for (const [name, p] of phases) {
      console.log(
        `    ${name.padEnd(26)} wall ${p.wall.toFixed(1).padStart(6)} s, CPU ${p.cpu.toFixed(1).padStart(6)} s`,
      );
    }
    console.log(
      `  search: ${search?.evaluations ?? 0} candidates, mean share of the graph each re-ran ${(search?.meanSuffixShare ?? 1).toFixed(2)}, output cosine on the scored images ${search?.startCosine.toFixed(5)} (KL everywhere) -> ${search?.cosine.toFixed(5)}`,
    );
    console.log(
      `  plain FP32 inference of the ${IMAGES} images: ${(base / 1000).toFixed(1)} s; ratio quantize / inference ${(wall / base).toFixed(1)}x`,
    );
    await compareTables(pm, inputs, previous, await readTable(tablePath));
  }
  if (BASELINE) await baseline(pm, inputs);
}

async function readTable(path: string): Promise<Map<string, number> | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  return new Map([...parseCalibrationTable(text)].map(([n, e]) => [n, e.threshold]));
}

/**
 * The table this run chose beside the one the previous run left in bench/out (a run of the code
 * before a change, say): rows whose threshold differs, and how each table does on the 20
 * held-out images (random weights, so no labels: top-1 is agreement with FP32's top-1).
 */
async function compareTables(
  pm: PreparedModel,
  inputs: readonly Tensor[],
  previous: Map<string, number> | undefined,
  current: Map<string, number> | undefined,
): Promise<void> {
  if (!current) return;
  const heldOut = splitHeldOut(inputs).heldOut.map((tensor) => ({ tensor }));
  const quality = async (thresholds: Map<string, number>) => {
    const q = await evaluateAccuracy(
      pm,
      buildInt8Graph(pm.model, pm.layers, { thresholds }),
      heldOut,
    );
    return `top-1 agreement with FP32 ${(q.agreement * 100).toFixed(1)} %, mean output cosine ${q.meanOutputCosine.toFixed(6)}`;
  };
  console.log(`  chosen table on the ${heldOut.length} held-out images: ${await quality(current)}`);
  if (!previous) {
    console.log('  (no table from a previous run in bench/out to compare with)');
    return;
  }
  let differ = 0;
  let worst = 0;
  for (const [n, th] of current) {
    const old = previous.get(n);
    const rel = old === undefined ? Infinity : Math.abs(th - old) / old;
    if (rel > 1e-6) differ++;
    worst = Math.max(worst, rel);
  }
  console.log(
    `  previous run's table: ${await quality(previous)}; rows whose threshold differs (> 1e-6 relative): ${differ} of ${current.size}, largest relative difference ${worst.toExponential(2)}`,
  );
}
