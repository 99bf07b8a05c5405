// `npm run bench -- cost-fit`: the cost model against the published bmrt_test times of the
// vendor's demos (test/fixtures/cost/demo-bmrt.json, docs/cost-model.md). Builds the networks as
// ONNX with PyTorch/torchvision (bench/cost/make_onnx.py, random weights, into bench/out/cost;
// YOLOv5s from the cost fixtures' graph builder), then prints, per published row, the shipped
// model's prediction and its error, separately for the rows it was fitted on and the held-out
// ones, and the FP32 -> FP16 / INT8 speed-up ratios.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  costConfidence,
  estimateLatency,
  layersFromGraph,
  type CostLayer,
  type CostPrecision,
} from '../controller/compile/cost/index.js';
import { describeGraph, loadOnnx } from '../controller/onnx/index.js';
import { yolov5sGraph } from '../harness/cost/yolov5s.js';

interface Row {
  model: string;
  chip: string;
  precision: CostPrecision;
  batch: number;
  ms: number;
  source: string;
}

const ROOT = new URL('../', import.meta.url).pathname;
const OUT = join(ROOT, 'bench/out/cost');
const BUILT: Record<string, readonly number[]> = {
  resnet50: [1, 3, 224, 224],
  c3d: [1, 3, 16, 112, 112],
  extractor: [1, 3, 128, 64],
  pose_coco: [1, 3, 368, 368],
  lprnet: [1, 3, 24, 94],
  yolox_s: [1, 3, 640, 640],
  retinaface: [1, 3, 640, 640],
};
/**
 * The shipped chip table (controller/compile/cost/chips.ts) is fitted on the ResNet-50 rows only;
 * every other network here is held out.
 */
const FIT = new Set(['resnet50']);

async function layersOf(name: string): Promise<CostLayer[]> {
  if (name === 'yolov5s') return layersFromGraph(yolov5sGraph(1, 640));
  const path = join(OUT, `${name}.onnx`);
  if (!existsSync(path)) {
    const python = process.env.BMFLEET_PYTHON ?? '/usr/bin/python3';
    const r = spawnSync(python, [join(ROOT, 'bench/cost/make_onnx.py'), OUT, name], {
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error(`make_onnx.py ${name} failed (needs python3-torch)`);
  }
  const model = loadOnnx(new Uint8Array(readFileSync(path)), path);
  return layersFromGraph(await describeGraph(model, [BUILT[name] ?? []]));
}

export async function run(): Promise<void> {
  const rows = (
    JSON.parse(readFileSync(join(ROOT, 'test/fixtures/cost/demo-bmrt.json'), 'utf8')) as {
      rows: Row[];
    }
  ).rows.filter((r) => r.chip !== 'cv186x');
  const names = [...Object.keys(BUILT), 'yolov5s'];
  const layersBy = new Map<string, CostLayer[]>();
  for (const name of names) {
    const layers = await layersOf(name);
    layersBy.set(name, layers);
    const gmac = layers
      .filter((l) => l.kind === 'conv' || l.kind === 'matmul')
      .reduce((s, l) => s + l.macs / 1e9, 0);
    const weights = layers.reduce((s, l) => s + l.weightElems, 0) / 1e6;
    const c = costConfidence(layers, estimateLatency(layers, 'bm1684x', 'fp32'));
    console.log(
      `${name.padEnd(10)} ${gmac.toFixed(2)} GMAC, ${weights.toFixed(1)} M weights, ${layers.length} layers${FIT.has(name) ? ' (fitted)' : ' (held out)'}; confidence ${c.level} (conv/matmul ${(c.matrixShare * 100).toFixed(0)} % of BM1684X FP32 time, ${(c.otherLayerShare * 100).toFixed(0)} % data-movement layers)`,
    );
  }
  const usable = rows.filter((r) => layersBy.has(r.model));
  const predict = (r: Row): number =>
    estimateLatency(layersBy.get(r.model) ?? [], r.chip, r.precision, { batch: r.batch })
      .perImageMs;
  console.log(
    `\n${'MODEL'.padEnd(10)} ${'CHIP'.padEnd(8)} PREC  B  ${'PUBLISHED'.padStart(9)} ${'MODELED'.padStart(9)} ${'ERROR'.padStart(7)}  SET`,
  );
  const held: number[] = [];
  for (const r of usable) {
    const p = predict(r);
    const e = (p - r.ms) / r.ms;
    if (!FIT.has(r.model)) held.push(e);
    console.log(
      `${r.model.padEnd(10)} ${r.chip.padEnd(8)} ${r.precision}  ${r.batch}  ${r.ms.toFixed(2).padStart(9)} ${p.toFixed(2).padStart(9)} ${`${(e * 100).toFixed(0)}%`.padStart(7)}  ${FIT.has(r.model) ? 'fit' : 'held-out'}`,
    );
  }
  const within = held.filter((e) => Math.abs(e) <= 0.25).length;
  const worst = Math.max(...held.map(Math.abs));
  console.log(
    `\nheld-out rows within +-25 %: ${within} of ${held.length}; worst ${(worst * 100).toFixed(0)} %`,
  );
  console.log(
    '\nFP32 -> FP16 / INT8 speed-up (batch 1) on held-out networks, published vs modeled:',
  );
  let ratioWithin = 0;
  let ratios = 0;
  for (const name of names.filter((n) => !FIT.has(n))) {
    for (const chip of ['bm1684', 'bm1684x', 'bm1688']) {
      const find = (p: string) =>
        usable.find(
          (r) => r.model === name && r.chip === chip && r.precision === p && r.batch === 1,
        );
      const fp32 = find('fp32');
      for (const p of ['fp16', 'int8']) {
        const other = find(p);
        if (!fp32 || !other) continue;
        const pub = fp32.ms / other.ms;
        const mod = predict(fp32) / predict(other);
        const e = (mod - pub) / pub;
        ratios++;
        if (Math.abs(e) <= 0.25) ratioWithin++;
        console.log(
          `${name.padEnd(10)} ${chip.padEnd(8)} fp32->${p}: published ${pub.toFixed(2)}x, modeled ${mod.toFixed(2)}x (${(e * 100).toFixed(0)} %)`,
        );
      }
    }
  }
  console.log(`speed-up ratios within +-25 %: ${ratioWithin} of ${ratios}`);
}
