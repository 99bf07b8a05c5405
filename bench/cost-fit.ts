// `npm run bench -- cost-fit`: the cost models against the published bmrt_test times of the
// vendor's demos (test/fixtures/cost/demo-bmrt.json, docs/cost-model.md). Builds the networks as
// ONNX with PyTorch/torchvision (bench/cost/make_onnx.py, random weights, into bench/out/cost;
// YOLOv5s from the cost fixtures' graph builder), then prints, per published row, the per-layer
// roofline's prediction (controller/compile/cost/estimate.ts, fitted on ResNet-50, shipped before
// the layer-group model) and its error, separately for the rows it was fitted on and the held-out
// ones, and the FP32 -> FP16 / INT8 speed-up ratios; then the same for the per-kind roofline
// (bench/cost/per-kind.ts) fitted on the fixed half FIT_KINDS, and the layer-group model
// (controller/compile/cost/layer-group.ts, what `bmfleet compile` prints) on the same split,
// beside the other two. The sealed networks (SEALED_KINDS) are predicted only with
// BMFLEET_COST_UNSEAL=1.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  costConfidence,
  estimateGroupLatency,
  estimateLatency,
  GROUP_COEFFICIENTS,
  GROUP_STRUCTURE,
  layersFromGraph,
  type CostLayer,
  type CostPrecision,
} from '../controller/compile/cost/index.js';
import { describeGraph, loadOnnx } from '../controller/onnx/index.js';
import { yolov5sGraph } from '../harness/cost/yolov5s.js';
import {
  fitGroups,
  groupPlan,
  partition,
  predictGroups,
  type GroupCoefficients,
  type GroupStructure,
} from '../controller/compile/cost/layer-group.js';
import {
  fitKinds,
  kindFeatures,
  LANES,
  predictKinds,
  type KindCoefficients,
} from './cost/per-kind.js';

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
/** Networks built as ONNX by bench/cost/make_onnx.py, with the input shape of the demo's BModel. */
export const BUILT: Readonly<Record<string, readonly number[]>> = {
  resnet50: [1, 3, 224, 224],
  c3d: [1, 3, 16, 112, 112],
  extractor: [1, 3, 128, 64],
  pose_coco: [1, 3, 368, 368],
  lprnet: [1, 3, 24, 94],
  yolox_s: [1, 3, 640, 640],
  retinaface: [1, 3, 640, 640],
  real_esrgan: [1, 3, 480, 640],
  hrnet_w32: [1, 3, 256, 192],
  centernet_dla34: [1, 3, 512, 512],
  scrfd_10g_kps: [1, 3, 640, 640],
  yolo11s: [1, 3, 640, 640],
  yolov8s: [1, 3, 640, 640],
  yolov7: [1, 3, 640, 640],
  yolov10s: [1, 3, 640, 640],
  yolov8s_pose: [1, 3, 640, 640],
  yolov8s_seg: [1, 3, 640, 640],
  segformer_b0: [1, 3, 512, 1024],
};

/**
 * Networks first predicted after the model of a round is frozen (docs/cost-model.md, "Sealed
 * networks"): every held-out network so far had its residuals read while the model's terms were
 * written, so the held-out figure is no longer blind. A sealed network is never in the fit half, and
 * no figure the bench prints is computed from its rows unless BMFLEET_COST_UNSEAL=1; without it the
 * bench prints only its MACs, weights and layer count and how many rows are sealed. Its rows are
 * then not even predicted.
 */
export const SEALED_KINDS: ReadonlySet<string> = new Set([
  'yolov10s',
  'yolov8s_pose',
  'yolov8s_seg',
  'segformer_b0',
]);

/** Whether this run may predict the sealed networks (the lead sets it once, after the freeze). */
export const unsealed = (env: Readonly<Record<string, string | undefined>> = process.env) =>
  env['BMFLEET_COST_UNSEAL'] === '1';

/** The rows this run predicts: the sealed networks' only when unsealed. */
export function openRows<T extends { model: string }>(rows: readonly T[], unseal: boolean): T[] {
  return unseal ? [...rows] : rows.filter((r) => !SEALED_KINDS.has(r.model));
}

/** A row's set, as the row tables print it. */
const setOf = (model: string, fit: ReadonlySet<string>) =>
  fit.has(model) ? 'fit' : SEALED_KINDS.has(model) ? 'sealed' : 'held-out';

/**
 * A network's first line: MACs, weights and layers; `confidence` (a modeled figure) only for a
 * network that is not sealed in this run, and for a sealed one the count of its sealed rows instead.
 */
export function networkLine(
  name: string,
  layers: readonly CostLayer[],
  set: string,
  confidence: () => string,
  sealedRows?: number,
): string {
  const gmac = layers
    .filter((l) => l.kind === 'conv' || l.kind === 'matmul')
    .reduce((s, l) => s + l.macs / 1e9, 0);
  const weights = layers.reduce((s, l) => s + l.weightElems, 0) / 1e6;
  const head = `${name.padEnd(10)} ${gmac.toFixed(2)} GMAC, ${weights.toFixed(1)} M weights, ${layers.length} layers`;
  return sealedRows === undefined
    ? `${head} (${set}); ${confidence()}`
    : `${head}; sealed: ${sealedRows} rows`;
}

interface SealedRow {
  model: string;
  chip: string;
  precision: string;
  batch: number;
  ms: number;
}

/**
 * The sealed networks' summary per model (rows within +-25 %, median, worst, FP32 -> FP16 / INT8
 * ratios at batch 1), over the sealed rows among `rows`: empty when there are none, which is every
 * run without BMFLEET_COST_UNSEAL=1 (openRows leaves them out), and then no model is called.
 */
export function sealedSummary<T extends SealedRow>(
  rows: readonly T[],
  models: Readonly<Record<string, (r: T) => number>>,
): string[] {
  const sealed = rows.filter((r) => SEALED_KINDS.has(r.model));
  if (sealed.length === 0) return [];
  const lines = [
    `\nsealed networks (first predicted after the model was frozen): ${[...new Set(sealed.map((r) => r.model))].join(', ')}, ${sealed.length} rows`,
  ];
  for (const [name, model] of Object.entries(models)) {
    const es = sealed.map((r) => model(r) / r.ms - 1);
    let ratios = 0;
    let ratioWithin = 0;
    for (const fp32 of sealed.filter((r) => r.precision === 'fp32' && r.batch === 1)) {
      for (const other of sealed.filter(
        (r) =>
          r.model === fp32.model &&
          r.chip === fp32.chip &&
          r.batch === 1 &&
          (r.precision === 'fp16' || r.precision === 'int8'),
      )) {
        ratios++;
        const e = model(fp32) / model(other) / (fp32.ms / other.ms) - 1;
        if (Math.abs(e) <= 0.25) ratioWithin++;
      }
    }
    lines.push(
      `${name.padEnd(8)} sealed rows within +-25 %: ${within25(es)} of ${es.length}, median error ${medianPct(es)}, worst ${worstPct(es)}; speed-up ratios within +-25 %: ${ratioWithin} of ${ratios}`,
    );
  }
  return lines;
}
/**
 * The roofline's chip table (controller/compile/cost/chips.ts) is fitted on the ResNet-50 rows only;
 * every other network here is held out.
 */
const FIT = new Set(['resnet50']);

const PYTHON = process.env.BMFLEET_PYTHON ?? '/usr/bin/python3';
const MAKE_ONNX = join(ROOT, 'bench/cost/make_onnx.py');

/**
 * The builders' fingerprints (make_onnx.py --fingerprint: the source of each builder and of what it
 * uses, and torch's version). A cached ONNX file is used only beside the fingerprint it was built
 * with, so a builder changed since (a fixed network) is rebuilt, not silently reused.
 */
function fingerprints(names: readonly string[]): Record<string, string> {
  const r = spawnSync(PYTHON, [MAKE_ONNX, '--fingerprint', ...names], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make_onnx.py --fingerprint failed (needs python3-torch)`);
  return JSON.parse(r.stdout) as Record<string, string>;
}

async function layersOf(name: string, fingerprint: string | undefined): Promise<CostLayer[]> {
  if (name === 'yolov5s') return layersFromGraph(yolov5sGraph(1, 640));
  const path = join(OUT, `${name}.onnx`);
  const stamp = `${path}.fingerprint`;
  const current =
    existsSync(path) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === fingerprint;
  if (!current) {
    const r = spawnSync(PYTHON, [MAKE_ONNX, OUT, name], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`make_onnx.py ${name} failed (needs python3-torch)`);
    writeFileSync(stamp, `${fingerprint ?? ''}\n`);
  }
  const model = loadOnnx(new Uint8Array(readFileSync(path)), path);
  return layersFromGraph(await describeGraph(model, [BUILT[name] ?? []]));
}

export async function run(): Promise<void> {
  const published = (
    JSON.parse(readFileSync(join(ROOT, 'test/fixtures/cost/demo-bmrt.json'), 'utf8')) as {
      rows: Row[];
    }
  ).rows.filter((r) => r.chip !== 'cv186x');
  const unseal = unsealed();
  const rows = openRows(published, unseal);
  const names = [...Object.keys(BUILT), 'yolov5s'].filter((n) => unseal || !SEALED_KINDS.has(n));
  const layersBy = new Map<string, CostLayer[]>();
  const stamps = fingerprints(Object.keys(BUILT));
  for (const name of [...Object.keys(BUILT), 'yolov5s']) {
    const layers = await layersOf(name, stamps[name]);
    const sealed = !unseal && SEALED_KINDS.has(name);
    if (!sealed) layersBy.set(name, layers);
    const confidence = () => {
      const c = costConfidence(layers, estimateGroupLatency(layers, 'bm1684x', 'fp32'));
      return `confidence ${c.level} (conv/matmul ${(c.matrixShare * 100).toFixed(0)} % of BM1684X FP32 time, ${(c.otherLayerShare * 100).toFixed(0)} % data-movement layers)`;
    };
    const set = FIT.has(name) ? 'fitted' : SEALED_KINDS.has(name) ? 'sealed' : 'held out';
    const count = sealed ? published.filter((r) => r.model === name).length : undefined;
    console.log(networkLine(name, layers, set, confidence, count));
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
      `${r.model.padEnd(10)} ${r.chip.padEnd(8)} ${r.precision}  ${r.batch}  ${r.ms.toFixed(2).padStart(9)} ${p.toFixed(2).padStart(9)} ${`${(e * 100).toFixed(0)}%`.padStart(7)}  ${setOf(r.model, FIT)}`,
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
  perKind(rows, layersBy);
  layerGroups(rows, layersBy);
}

/**
 * The split, fixed before fitting, at most half of the built networks: one network per kind of
 * workload (classification ResNet-50, multi-stage conv pose_coco, tiny LPRNet, SiLU detector
 * YOLOv5s, full-resolution conv Real-ESRGAN). Every network added later (CenterNet-DLA34,
 * SCRFD-10G, YOLO11s, YOLOv8s, YOLOv7) is held out with C3D, the DeepSORT extractor, YOLOX-s,
 * RetinaFace and HRNet-w32, so no choice of structure or coefficient has seen them
 * (docs/cost-model.md, "Split rule"). The models' structure was chosen by leaving one fit network
 * out at a time, never by the held-out errors.
 */
export const FIT_KINDS: ReadonlySet<string> = new Set([
  'resnet50',
  'pose_coco',
  'lprnet',
  'yolov5s',
  'real_esrgan',
]);

function perKind(rows: readonly Row[], layersBy: ReadonlyMap<string, CostLayer[]>): void {
  const chips = Object.keys(LANES);
  const usable = rows.filter((r) => layersBy.has(r.model) && chips.includes(r.chip));
  const withFeatures = usable.map((r) => ({
    ...r,
    features: kindFeatures(layersBy.get(r.model) ?? [], r.chip, r.precision, r.batch),
  }));
  const fitOn = (nets: ReadonlySet<string>) =>
    new Map(
      chips.map((chip) => [
        chip,
        fitKinds(withFeatures.filter((r) => r.chip === chip && nets.has(r.model))),
      ]),
    );
  const predictWith = (k: Map<string, KindCoefficients>, r: (typeof withFeatures)[number]) => {
    const c = k.get(r.chip);
    return c ? predictKinds(r.features, c) / r.batch : Number.NaN;
  };
  const coefficients = fitOn(FIT_KINDS);
  console.log(
    `\nPer-kind roofline (bench/cost/per-kind.ts), fitted on ${[...FIT_KINDS].join(', ')}; the other networks held out.`,
  );
  for (const [chip, k] of coefficients) {
    const m = k.matrix > 0 ? `${(100 / k.matrix).toFixed(0)} %` : 'n/a';
    console.log(
      `${chip.padEnd(8)} conv/matmul efficiency ${m} of each precision's peak; vector lanes x${k.vector.toFixed(2)}; spill x${k.spill.toFixed(2)} of the DDR time; launch ${k.layerUs.toFixed(1)} us per layer`,
    );
  }
  console.log(
    `\n${'MODEL'.padEnd(10)} ${'CHIP'.padEnd(8)} PREC  B  ${'PUBLISHED'.padStart(9)} ${'MODELED'.padStart(9)} ${'ERROR'.padStart(7)}  SET`,
  );
  const held: number[] = [];
  const fitted: number[] = [];
  const shippedHeld: number[] = [];
  for (const r of withFeatures) {
    const p = predictWith(coefficients, r);
    const e = (p - r.ms) / r.ms;
    (FIT_KINDS.has(r.model) ? fitted : held).push(e);
    if (!FIT_KINDS.has(r.model)) {
      const shipped = estimateLatency(layersBy.get(r.model) ?? [], r.chip, r.precision, {
        batch: r.batch,
      }).perImageMs;
      shippedHeld.push((shipped - r.ms) / r.ms);
    }
    console.log(
      `${r.model.padEnd(10)} ${r.chip.padEnd(8)} ${r.precision}  ${r.batch}  ${r.ms.toFixed(2).padStart(9)} ${p.toFixed(2).padStart(9)} ${`${(e * 100).toFixed(0)}%`.padStart(7)}  ${setOf(r.model, FIT_KINDS)}`,
    );
  }
  const within = (es: number[]) => es.filter((e) => Math.abs(e) <= 0.25).length;
  const median = (es: number[]) => {
    const sorted = es.map(Math.abs).sort((a, b) => a - b);
    return `${((sorted[Math.floor(sorted.length / 2)] ?? 0) * 100).toFixed(0)} %`;
  };
  console.log(
    `per-kind: fit rows within +-25 %: ${within(fitted)} of ${fitted.length}; held-out rows within +-25 %: ${within(held)} of ${held.length}, median error ${median(held)}, worst ${(Math.max(...held.map(Math.abs)) * 100).toFixed(0)} %`,
  );
  console.log(
    `roofline on the same held-out rows: ${within(shippedHeld)} of ${shippedHeld.length} within +-25 %, median error ${median(shippedHeld)}, worst ${(Math.max(...shippedHeld.map(Math.abs)) * 100).toFixed(0)} %`,
  );
  let ratioWithin = 0;
  let shippedRatioWithin = 0;
  let ratios = 0;
  for (const name of [...layersBy.keys()].filter((n) => !FIT_KINDS.has(n))) {
    for (const chip of chips) {
      const find = (p: string) =>
        withFeatures.find(
          (r) => r.model === name && r.chip === chip && r.precision === p && r.batch === 1,
        );
      const fp32 = find('fp32');
      for (const p of ['fp16', 'int8']) {
        const other = find(p);
        if (!fp32 || !other) continue;
        const pub = fp32.ms / other.ms;
        const mod = predictWith(coefficients, fp32) / predictWith(coefficients, other);
        const e = (mod - pub) / pub;
        ratios++;
        if (Math.abs(e) <= 0.25) ratioWithin++;
        const shipped = (r: Row) =>
          estimateLatency(layersBy.get(r.model) ?? [], r.chip, r.precision).perImageMs;
        if (Math.abs(shipped(fp32) / shipped(other) / pub - 1) <= 0.25) shippedRatioWithin++;
        console.log(
          `${name.padEnd(10)} ${chip.padEnd(8)} fp32->${p}: published ${pub.toFixed(2)}x, modeled ${mod.toFixed(2)}x (${(e * 100).toFixed(0)} %)`,
        );
      }
    }
  }
  console.log(
    `per-kind: held-out speed-up ratios within +-25 %: ${ratioWithin} of ${ratios} (roofline: ${shippedRatioWithin})`,
  );
  // Leave one fit network out: how the same recipe does on a network it has not seen, using the
  // fit half only.
  const cv: number[] = [];
  for (const left of FIT_KINDS) {
    const k = fitOn(new Set([...FIT_KINDS].filter((n) => n !== left)));
    for (const r of withFeatures.filter((x) => x.model === left)) {
      cv.push((predictWith(k, r) - r.ms) / r.ms);
    }
  }
  console.log(
    `per-kind: leave-one-network-out within the fit half: ${within(cv)} of ${cv.length} within +-25 %, median error ${median(cv)}`,
  );
}

const within25 = (es: readonly number[]) => es.filter((e) => Math.abs(e) <= 0.25).length;
const medianPct = (es: readonly number[]) => {
  const sorted = es.map(Math.abs).sort((a, b) => a - b);
  return `${((sorted[Math.floor(sorted.length / 2)] ?? 0) * 100).toFixed(0)} %`;
};
const worstPct = (es: readonly number[]) => `${(Math.max(...es.map(Math.abs)) * 100).toFixed(0)} %`;
const pct = (e: number) => `${e >= 0 ? '+' : ''}${(e * 100).toFixed(0)}%`;

/** Candidate structures of the layer-group model, chosen among by leave-one-out on FIT_KINDS. */
/** Copies on the DMA, activations by lane instructions, BM1684 INT8 lane words: the terms the
 * later candidates start from. */
const LANE_WORDS = {
  fp32Factor: false,
  localMovement: false,
  mergeKernel: false,
  splitVector: false,
  movementOnDma: true,
  activationOps: true,
  int8LanesAsWords: true,
} as const;

/** The chosen terms (group-estimate.ts GROUP_STRUCTURE) the chip-specific candidates start from. */
const CHOSEN_TERMS = {
  ...LANE_WORDS,
  pipelineFill: true,
  perLayer: true,
  fp32Factor: true,
} as const;

/**
 * Chip- and op-specific lowering read from tpu-mlir's backends, written after the held-out
 * residuals of C3D and RetinaFace were known; their held-out figures are printed whether chosen
 * or not.
 */
const CHIP_SPECIFIC: readonly GroupStructure[] = (
  [
    { global3dInt8: true },
    { depthwiseByUnit: true },
    { global3dInt8: true, depthwiseByUnit: true },
    { depthwiseInt32: true },
    { global3dInt8: true, depthwiseInt32: true },
  ] as const
).map((extra) => ({ ...CHOSEN_TERMS, ...extra }));

const GROUP_STRUCTURES: readonly GroupStructure[] = [
  ...[false, true].flatMap((splitVector) =>
    [false, true].flatMap((fp32Factor) =>
      [false, true].map((perLayer) => ({
        fp32Factor,
        perLayer,
        localMovement: false,
        mergeKernel: false,
        splitVector,
        movementOnDma: false,
      })),
    ),
  ),
  // Data movement on the DMA engine only, FP32 at the peak ratio, one vector factor.
  ...[false, true].map((perLayer) => ({
    fp32Factor: false,
    perLayer,
    localMovement: false,
    mergeKernel: false,
    splitVector: false,
    movementOnDma: true,
  })),
  // Activations by their lane instructions per element (exp + add + divide for a sigmoid), one
  // lane factor for all vector work, copies on the DMA.
  ...[false, true].map((perLayer) => ({
    fp32Factor: false,
    perLayer,
    localMovement: false,
    mergeKernel: false,
    splitVector: false,
    movementOnDma: true,
    activationOps: true,
  })),
  // The same with depthwise convs as per-channel convs at the conv efficiency.
  ...[false, true].map((perLayer) => ({
    fp32Factor: false,
    perLayer,
    localMovement: false,
    mergeKernel: false,
    splitVector: false,
    movementOnDma: true,
    activationOps: true,
    depthwiseOnConv: true,
  })),
  // The chosen terms with BM1684's INT8 lane work on 32-bit words per image (4N only in convs).
  ...[false, true].map((perLayer) => ({ ...LANE_WORDS, perLayer })),
  // On top of the chosen terms (copies on the DMA, activations by lane instructions, BM1684 INT8
  // lane words): a channel Concat and a nearest integer Resize inside groups, as tpu-mlir runs
  // them (CostLayer.runsInLayerGroup); the cost per layer paid per loop iteration; the software
  // pipeline's fill and drain; with and without the FP32 conv factor.
  ...(
    [
      { groupedCopies: true, perLayer: false },
      { groupedCopies: true, perLayer: true },
      { groupedCopies: true, perLayer: true, layerPerSlice: true },
      { groupedCopies: true, perLayer: true, fp32Factor: true },
      { pipelineFill: true, perLayer: true },
      { pipelineFill: true, perLayer: true, fp32Factor: true },
      { pipelineFill: true, perLayer: false, fp32Factor: true },
      { pipelineFill: true, perLayer: true, fp32Factor: true, layerPerSlice: true },
      { pipelineFill: true, groupedCopies: true, perLayer: true },
      { pipelineFill: true, groupedCopies: true, perLayer: true, fp32Factor: true },
      { pipelineFill: true, groupedCopies: true, perLayer: false, fp32Factor: true },
      { pipelineFill: true, fillActivationsOnly: true, groupedCopies: true, perLayer: true },
      {
        pipelineFill: true,
        fillActivationsOnly: true,
        groupedCopies: true,
        perLayer: true,
        fp32Factor: true,
      },
    ] as const
  ).map((extra) => ({ ...LANE_WORDS, ...extra })),
  // On top of the chosen terms (copies on the DMA, activations by lane instructions, BM1684 INT8
  // lane words, pipeline fill/drain, cost per layer, FP32 conv factor): the copies tpu-mlir makes
  // in place for one image (a one-axis Slice view, a Concat its producers write into: no command,
  // CostLayer.inPlaceAtBatch1), alone and with the grouped copies.
  ...(
    [
      { inPlaceCopies: true },
      { inPlaceCopies: true, groupedCopies: true },
      { inPlaceCopies: true, perLayer: false },
      { inPlaceCopies: true, groupedCopies: true, perLayer: false },
    ] as const
  ).map((extra) => ({
    ...LANE_WORDS,
    pipelineFill: true,
    perLayer: true,
    fp32Factor: true,
    ...extra,
  })),
  // Chip- and op-specific lowering, on top of the chosen terms (docs/cost-model.md, "Chip- and
  // op-specific lowering"): BM1684's quantized 3-D convs and pools outside layer groups, its FP32
  // depthwise convs on the conv unit, INT8 depthwise convs on 32-bit accumulators.
  ...CHIP_SPECIFIC,
  // tpu-mlir's 3ic merge, with the vector split and without the FP32 factor.
  ...[false, true].map((perLayer) => ({
    fp32Factor: false,
    perLayer,
    localMovement: false,
    mergeKernel: true,
    splitVector: true,
    movementOnDma: false,
  })),
];

const chipSpecificTerms = (s: GroupStructure) => [
  ...(s.global3dInt8 ? ['quantized 3-D convs/pools outside groups (BM1684)'] : []),
  ...(s.depthwiseByUnit ? ['FP32 depthwise on the conv unit (BM1684)'] : []),
  ...(s.depthwiseInt32 ? ['INT8 depthwise on 32-bit accumulators (BM1684X, BM1688)'] : []),
];

const describeStructure = (s: GroupStructure) =>
  [
    s.fp32Factor ? 'FP32 conv factor' : 'FP32 at the peak ratio',
    s.perLayer ? 'cost per layer in a group' : 'cost per group only',
    s.localMovement ? 'Concat/Resize/Slice in groups' : 'data movement on its own',
    s.mergeKernel ? '3ic kernel merge' : 'no 3ic',
    s.splitVector ? 'activations apart' : 'one vector factor',
    ...(s.movementOnDma ? ['copies on the DMA only'] : []),
    ...(s.activationOps ? ['activations by lane instructions'] : []),
    ...(s.depthwiseOnConv ? ['depthwise at the conv efficiency'] : []),
    ...(s.int8LanesAsWords ? ['INT8 lane work per image on 32-bit words (BM1684)'] : []),
    ...(s.groupedCopies ? ['channel Concat / nearest Resize in groups'] : []),
    ...(s.layerPerSlice ? ['layer cost per loop iteration'] : []),
    ...(s.inPlaceCopies ? ['in-place Slice/Concat free for one image'] : []),
    ...chipSpecificTerms(s),
    ...(s.pipelineFill
      ? [
          s.fillActivationsOnly
            ? 'pipeline fill/drain of boundary activations'
            : 'pipeline fill/drain exposed',
        ]
      : []),
  ].join(', ');

/**
 * Layers the demos' INT8 BModels keep in float (mixed precision). sample/YOLOX/scripts/
 * gen_int8bmodel_mlir.sh runs tpu-mlir's fp_forward.py with --fpfwd_inputs at dark2's CSP output
 * conv (it and every layer before it) and --fpfwd_outputs at the three head stems (they and every
 * layer after them). Given as name patterns of this bench's ONNX layers (`upTo` only where the
 * script has --fpfwd_inputs); the other demos' tables are downloaded files, not published
 * (docs/cost-model.md).
 */
const FLOAT_IN_INT8: Readonly<Record<string, { upTo?: RegExp; from: RegExp }>> = {
  yolox_s: { upTo: /^\/d2\/d2\.1\/out\//, from: /^\/stems\.\d\// },
  // sample/YOLOv8_pose/scripts/gen_int8bmodel_mlir.sh: --fpfwd_outputs at the DFL conv, the last
  // box and class convs of the stride-32 level and the three keypoint branches' last convs.
  yolov8s_pose: {
    from: /^\/detect\/(dfl\/Conv$|cv[23]\.2\/cv[23]\.2\.2\/|cv4\.\d\/cv4\.\d\.2\/)/,
  },
};

/** Indices of the layers an INT8 BModel of `name` runs in float (ancestors / descendants). */
export function floatLayersOf(name: string, layers: readonly CostLayer[]): Set<number> {
  const table = FLOAT_IN_INT8[name];
  const out = new Set<number>();
  if (table === undefined) return out;
  const readers = layers.map((): number[] => []);
  layers.forEach((l, i) => {
    for (const p of l.inputs ?? []) readers[p]?.push(i);
  });
  const walk = (start: number[], next: (i: number) => readonly number[]) => {
    const stack = [...start];
    for (let i = stack.pop(); i !== undefined; i = stack.pop()) {
      if (out.has(i)) continue;
      out.add(i);
      stack.push(...next(i));
    }
  };
  const matching = (re: RegExp) => layers.flatMap((l, i) => (re.test(l.name) ? [i] : []));
  const upTo = table.upTo === undefined ? [] : matching(table.upTo);
  const from = matching(table.from);
  if ((table.upTo !== undefined && upTo.length === 0) || from.length === 0) {
    throw new Error(`no float anchors in ${name}`);
  }
  walk(upTo, (i) => layers[i]?.inputs ?? []);
  walk(from, (i) => readers[i] ?? []);
  return out;
}

/**
 * The layer-group model (controller/compile/cost/layer-group.ts) on the same fixed split as the per-kind one:
 * structure chosen by leaving one FIT_KINDS network out at a time, then fitted on FIT_KINDS and
 * checked on the held-out half, beside the roofline and the per-kind models.
 */
export function layerGroups(
  rows: readonly Row[],
  layersBy: ReadonlyMap<string, CostLayer[]>,
): void {
  const chips = Object.keys(LANES);
  const usable = rows.filter((r) => layersBy.has(r.model) && chips.includes(r.chip));
  const floats = new Map(
    [...layersBy].map(([name, layers]) => [name, floatLayersOf(name, layers)] as const),
  );
  for (const [name, f] of floats) {
    if (f.size > 0) {
      const layers = layersBy.get(name) ?? [];
      const macs = (set: (i: number) => boolean) =>
        layers.reduce((s, l, i) => s + (set(i) && l.channels ? l.macs : 0), 0);
      console.log(
        `\n${name}: INT8 BModels keep ${f.size} of ${layers.length} layers in float (${((100 * macs((i) => f.has(i))) / macs(() => true)).toFixed(0)} % of the MACs)`,
      );
    }
  }
  const planned = (structure: GroupStructure) =>
    usable.map((r) => ({
      ...r,
      plan: groupPlan(
        layersBy.get(r.model) ?? [],
        r.chip,
        r.precision,
        r.batch,
        structure,
        floats.get(r.model),
      ),
    }));
  type Planned = ReturnType<typeof planned>[number];
  const fitOn = (all: readonly Planned[], nets: ReadonlySet<string>, s: GroupStructure) =>
    new Map(
      chips.map((chip) => [
        chip,
        fitGroups(
          all.filter((r) => r.chip === chip && nets.has(r.model)),
          s,
        ),
      ]),
    );
  const predictWith = (k: ReadonlyMap<string, GroupCoefficients>, r: Planned) => {
    const c = k.get(r.chip);
    return c ? predictGroups(r, c) : Number.NaN;
  };
  console.log(
    '\nLayer-group model (controller/compile/cost/layer-group.ts): leave one fit network out, per structure:',
  );
  let chosen: { s: GroupStructure; all: Planned[]; within: number; median: number } | undefined;
  const leftOut = new Map<GroupStructure, string>();
  for (const s of GROUP_STRUCTURES) {
    const all = planned(s);
    const cv: number[] = [];
    for (const left of FIT_KINDS) {
      const k = fitOn(all, new Set([...FIT_KINDS].filter((n) => n !== left)), s);
      for (const r of all.filter((x) => x.model === left)) cv.push(predictWith(k, r) / r.ms - 1);
    }
    const w = within25(cv);
    const sorted = cv.map(Math.abs).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? Infinity;
    leftOut.set(s, `${w} of ${cv.length} within +-25 %, median ${medianPct(cv)}`);
    console.log(`  ${describeStructure(s)}: ${leftOut.get(s) ?? ''}`);
    if (!chosen || w > chosen.within || (w === chosen.within && median < chosen.median)) {
      chosen = { s, all, within: w, median };
    }
  }
  if (!chosen) return;
  const { s, all } = chosen;
  const k = fitOn(all, FIT_KINDS, s);
  // controller/compile/cost/group-estimate.ts copies this choice and fit for `bmfleet compile`.
  const sameStructure = describeStructure(s) === describeStructure(GROUP_STRUCTURE);
  const sameFit = [...k].every(([chip, c]) => {
    const shipped = GROUP_COEFFICIENTS[chip];
    return (
      shipped !== undefined &&
      (Object.keys(c) as (keyof GroupCoefficients)[]).every(
        (n) => Math.abs(c[n] - shipped[n]) <= 1e-9 * Math.max(1, Math.abs(c[n])),
      )
    );
  });
  console.log(
    `bmfleet compile's table (group-estimate.ts): structure ${sameStructure ? 'matches' : 'DIFFERS'}, coefficients ${sameFit ? 'match' : 'DIFFER'}`,
  );
  if (!sameStructure || !sameFit) {
    // Full precision (shortest round-trip JSON), so a refit can be copied into group-estimate.ts.
    console.log(`group-estimate.ts GROUP_STRUCTURE: ${JSON.stringify(s)}`);
    console.log(`group-estimate.ts GROUP_COEFFICIENTS: ${JSON.stringify(Object.fromEntries(k))}`);
  }
  console.log(`chosen: ${describeStructure(s)}; fitted on ${[...FIT_KINDS].join(', ')}:`);
  for (const [chip, c] of k) {
    console.log(
      `${chip.padEnd(8)} conv efficiency ${(100 / c.matrix).toFixed(0)} % of the peak${s.fp32Factor ? ` (FP32 ${(100 / c.matrix / c.fp32).toFixed(0)} %)` : ''}; vector lanes x${c.vector.toFixed(2)}${s.splitVector ? `, activation passes x${c.activation.toFixed(2)}` : ''}; launch ${c.groupUs.toFixed(1)} us per group${s.perLayer ? ` + ${c.layerUs.toFixed(2)} us per layer` : ''}`,
    );
  }
  console.log(
    `\n${'MODEL'.padEnd(10)} ${'CHIP'.padEnd(8)} PREC  B  ${'PUBLISHED'.padStart(9)} ${'GROUPS'.padStart(9)} ${'ERROR'.padStart(6)} ${'PER-KIND'.padStart(9)} ${'ERROR'.padStart(6)} ${'SHIPPED'.padStart(9)} ${'ERROR'.padStart(6)} ${'LAUNCHES'.padStart(8)}  SET`,
  );
  const kinds = new Map(
    chips.map((chip) => [
      chip,
      fitKinds(
        usable
          .filter((r) => r.chip === chip && FIT_KINDS.has(r.model))
          .map((r) => ({
            ...r,
            features: kindFeatures(layersBy.get(r.model) ?? [], r.chip, r.precision, r.batch),
          })),
      ),
    ]),
  );
  const models = {
    groups: (r: Planned) => predictWith(k, r),
    perKind: (r: Planned) => {
      const c = kinds.get(r.chip);
      const f = kindFeatures(layersBy.get(r.model) ?? [], r.chip, r.precision, r.batch);
      return c ? predictKinds(f, c) / r.batch : Number.NaN;
    },
    roofline: (r: Planned) =>
      estimateLatency(layersBy.get(r.model) ?? [], r.chip, r.precision, { batch: r.batch })
        .perImageMs,
  };
  type Name = keyof typeof models;
  const names = Object.keys(models) as Name[];
  const held = new Map<Name, number[]>(names.map((n) => [n, []]));
  const fitted: number[] = [];
  for (const r of all) {
    const e = new Map(names.map((n) => [n, models[n](r) / r.ms - 1]));
    const isFit = FIT_KINDS.has(r.model);
    if (isFit) fitted.push(e.get('groups') ?? Number.NaN);
    else for (const n of names) held.get(n)?.push(e.get(n) ?? Number.NaN);
    const c = k.get(r.chip);
    // An in-place copy on its own is a group of no command, not a launch.
    const launches = c
      ? partition(r.plan, c).groups.filter(
          (g) => g.first !== g.last || r.plan.inPlace[g.first] !== 1,
        ).length
      : 0;
    const cols = names
      .map((n) => `${models[n](r).toFixed(2).padStart(9)} ${pct(e.get(n) ?? 0).padStart(6)}`)
      .join(' ');
    console.log(
      `${r.model.padEnd(10)} ${r.chip.padEnd(8)} ${r.precision}  ${r.batch}  ${r.ms.toFixed(2).padStart(9)} ${cols} ${`${launches}/${r.plan.matrixMs.length}`.padStart(8)}  ${setOf(r.model, FIT_KINDS)}`,
    );
  }
  console.log(`layer groups: fit rows within +-25 %: ${within25(fitted)} of ${fitted.length}`);
  for (const n of names) {
    const es = held.get(n) ?? [];
    console.log(
      `${n.padEnd(8)} held-out rows within +-25 %: ${within25(es)} of ${es.length}, median error ${medianPct(es)}, worst ${worstPct(es)}`,
    );
  }
  const ratioWithin = new Map<Name, number>(names.map((n) => [n, 0]));
  let ratios = 0;
  console.log(
    '\nFP32 -> FP16 / INT8 speed-up (batch 1), held-out networks: published, layer groups, per-kind, roofline',
  );
  for (const name of [...layersBy.keys()].filter((x) => !FIT_KINDS.has(x))) {
    for (const chip of chips) {
      const find = (p: string) =>
        all.find((r) => r.model === name && r.chip === chip && r.precision === p && r.batch === 1);
      const fp32 = find('fp32');
      for (const p of ['fp16', 'int8']) {
        const other = find(p);
        if (!fp32 || !other) continue;
        ratios++;
        const pub = fp32.ms / other.ms;
        const cells = names.map((n) => {
          const mod = models[n](fp32) / models[n](other);
          const e = mod / pub - 1;
          if (Math.abs(e) <= 0.25) ratioWithin.set(n, (ratioWithin.get(n) ?? 0) + 1);
          return `${mod.toFixed(2)}x (${pct(e)})`;
        });
        console.log(
          `${name.padEnd(10)} ${chip.padEnd(8)} fp32->${p}: ${pub.toFixed(2)}x; ${cells.join('; ')}`,
        );
      }
    }
  }
  console.log(
    `speed-up ratios within +-25 %: ${names.map((n) => `${n} ${ratioWithin.get(n) ?? 0} of ${ratios}`).join(', ')}`,
  );
  // `bmfleet compile` prints the layer-group model because it beats the roofline on all three
  // counts (docs/cost-model.md, "Result on the held-out half"); a refit must still do so.
  const worst = (n: Name) => Math.max(...(held.get(n) ?? []).map(Math.abs));
  const beats =
    within25(held.get('groups') ?? []) > within25(held.get('roofline') ?? []) &&
    worst('groups') < worst('roofline') &&
    (ratioWithin.get('groups') ?? 0) > (ratioWithin.get('roofline') ?? 0);
  console.log(
    `layer groups beat the roofline on held-out rows, worst error and ratios: ${beats ? 'yes' : 'no'} (worst ${worstPct(held.get('groups') ?? [])} against ${worstPct(held.get('roofline') ?? [])})`,
  );
  for (const line of sealedSummary(all, models)) console.log(line);
  chipSpecific(
    s,
    leftOut,
    all,
    (r) => predictWith(k, r),
    (cs) => {
      const rows = planned(cs);
      const fit = fitOn(rows, FIT_KINDS, cs);
      return { rows, predict: (r: Planned) => predictWith(fit, r) };
    },
  );
}

/**
 * The chip-specific candidates' figures beside the chosen structure's, chosen or not: their
 * leave-one-out, their held-out rows and ratios when fitted on FIT_KINDS, and every row whose
 * error they move (docs/cost-model.md, "Chip- and op-specific lowering").
 */
function chipSpecific<R extends Row>(
  chosen: GroupStructure,
  leftOut: ReadonlyMap<GroupStructure, string>,
  base: readonly R[],
  basePredict: (r: R) => number,
  refit: (s: GroupStructure) => { rows: R[]; predict: (r: R) => number },
): void {
  const key = (r: Row) => `${r.model}/${r.chip}/${r.precision}/${r.batch}`;
  const baseError = new Map(base.map((r) => [key(r), basePredict(r) / r.ms - 1]));
  const ratiosWithin = (rows: readonly R[], predict: (r: R) => number) => {
    let within = 0;
    let count = 0;
    for (const fp32 of rows.filter(
      (r) => !FIT_KINDS.has(r.model) && r.precision === 'fp32' && r.batch === 1,
    )) {
      for (const p of ['fp16', 'int8']) {
        const other = rows.find(
          (r) =>
            r.model === fp32.model && r.chip === fp32.chip && r.precision === p && r.batch === 1,
        );
        if (!other) continue;
        count++;
        const e = predict(fp32) / predict(other) / (fp32.ms / other.ms) - 1;
        if (Math.abs(e) <= 0.25) within++;
      }
    }
    return `${within} of ${count}`;
  };
  console.log(
    '\nChip- and op-specific candidates (chosen only if they win leave-one-out; their held-out figures beside those of the chosen structure):',
  );
  const summary = (label: string, rows: readonly R[], predict: (r: R) => number) => {
    const held = rows.filter((r) => !FIT_KINDS.has(r.model)).map((r) => predict(r) / r.ms - 1);
    const fit = rows.filter((r) => FIT_KINDS.has(r.model)).map((r) => predict(r) / r.ms - 1);
    console.log(
      `  ${label}: fit rows ${within25(fit)} of ${fit.length}; held-out rows ${within25(held)} of ${held.length} within +-25 %, median ${medianPct(held)}, worst ${worstPct(held)}; ratios ${ratiosWithin(rows, predict)}`,
    );
  };
  summary(`chosen (${leftOut.get(chosen) ?? ''} leave-one-out)`, base, basePredict);
  for (const cs of CHIP_SPECIFIC) {
    const { rows, predict } = refit(cs);
    summary(
      `${cs === chosen ? 'CHOSEN' : 'not chosen'}: + ${chipSpecificTerms(cs).join(' + ')} (${leftOut.get(cs) ?? ''} leave-one-out)`,
      rows,
      predict,
    );
    for (const r of rows) {
      const e = predict(r) / r.ms - 1;
      const before = baseError.get(key(r)) ?? Number.NaN;
      if (Math.abs(e - before) < 0.005) continue;
      console.log(
        `    ${r.model.padEnd(10)} ${r.chip.padEnd(8)} ${r.precision}  ${r.batch}  ${pct(before).padStart(6)} -> ${pct(e).padStart(6)}  ${FIT_KINDS.has(r.model) ? 'fit' : 'held-out'}`,
      );
    }
  }
}
