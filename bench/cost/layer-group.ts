// A layer-group cost model for the cost-fit benchmark (bench/cost-fit.ts, docs/cost-model.md).
//
// The device does not run ONNX layers one by one: tpu-mlir's LayerGroup pass (lib/Dialect/Tpu/
// Transforms/LayerGroup: GroupMethod, CycleCalculator) keeps a chain of layers resident in local
// memory (LMEM), slices it by images (N) and rows (H) until one slice's tensors fit, and runs the
// chain as one launch; DDR is touched only by the group's boundary tensors and its weights, and
// the loads overlap the compute (CycleCalculator::getGroupCycle takes per time step the max of
// the compute and the DMA cycles). It partitions the network by dynamic programming over the
// layer order, choosing the cheapest grouping under its own cost. This file does the same in
// small:
// - per layer, compute from the lane geometry (per-kind.ts): conv/matmul MACs at the precision's
//   peak with channel padding to NPU_NUM and IC_PARALLEL; vector work (depthwise, pools,
//   elementwise, data movement, fused SiLU passes) by bytes over NPU_NUM x EU_BYTES lanes;
// - a group of consecutive layers is possible when every layer can run from local memory (not a
//   matmul or data-movement layer) and its weights plus one slice of its largest layer's input
//   and output fit in LMEM; slicing by rows recomputes each later kernel's halo rows per slice;
// - group time = max(compute, (boundary activations + weights) / DDR bandwidth) + one launch;
// - the partition minimises the modeled time, as the compiler's dynamic programming does.
// Fitted per chip (few numbers): 1 / conv efficiency, a vector-lane factor, the launch cost per
// group, and optionally an FP32 conv factor and a cost per layer inside a group.
import type { CostLayer, CostPrecision } from '../../controller/compile/cost/index.js';
import { laneGeometry, padTo } from './per-kind.js';

/** Longest group the partition considers (tpu-mlir bounds its search the same way). */
const MAX_GROUP = 64;
/** Sustained share of the DDR bandwidth (as for the weights in per-kind.ts; not fitted). */
const DDR_EFFICIENCY = 0.85;

/** What a network run costs at unit coefficients; built once per row, reused by the fit. */
export interface GroupPlan {
  readonly precision: CostPrecision;
  readonly lanes: number;
  readonly bytes: number;
  readonly lmemBytes: number;
  readonly ddrBytesPerMs: number;
  /** Per layer: conv/matmul ms at peak (padding included), vector ms at full lane rate. */
  readonly matrixMs: Float64Array;
  readonly vectorMs: Float64Array;
  /** Per layer and image: largest input + output elements, output elements, graph-input elements. */
  readonly actElems: Float64Array;
  readonly outElems: Float64Array;
  readonly extInElems: Float64Array;
  readonly weightBytes: Float64Array;
  readonly rows: Float64Array;
  readonly kernel: Float64Array;
  readonly local: Uint8Array;
  readonly inputs: readonly (readonly number[])[];
  /** Layers whose last reader is this layer (their output leaves LMEM after it). */
  readonly lastReadBy: readonly (readonly number[])[];
  /** Index of each layer's last reader; Infinity for the network's outputs. */
  readonly lastReader: Float64Array;
}

export interface GroupStructure {
  /** A separate conv factor at FP32 (the FP32 path does not use the FP16/INT8 cube). */
  readonly fp32Factor: boolean;
  /** A cost per layer inside a group (per-layer synchronisation) besides the launch cost. */
  readonly perLayer: boolean;
  /** Concat / Resize / Slice layers may join a group. */
  readonly localMovement: boolean;
}

export interface GroupCoefficients {
  readonly matrix: number;
  readonly fp32: number;
  readonly vector: number;
  readonly groupUs: number;
  readonly layerUs: number;
}

export function groupPlan(
  layers: readonly CostLayer[],
  chip: string,
  precision: CostPrecision,
  batch: number,
  structure: GroupStructure,
): GroupPlan {
  const {
    chip: c,
    peak,
    bytes,
    lanes,
    vectorBytesPerMs,
    ic,
  } = laneGeometry(chip, precision, batch);
  const n = layers.length;
  const plan = {
    precision,
    lanes,
    bytes,
    lmemBytes: c.lmemBytes,
    ddrBytesPerMs: c.ddrGBs * 1e6 * DDR_EFFICIENCY,
    matrixMs: new Float64Array(n),
    vectorMs: new Float64Array(n),
    actElems: new Float64Array(n),
    outElems: new Float64Array(n),
    extInElems: new Float64Array(n),
    weightBytes: new Float64Array(n),
    rows: new Float64Array(n),
    kernel: new Float64Array(n),
    local: new Uint8Array(n),
    inputs: layers.map((l) => l.inputs ?? []),
    lastReadBy: layers.map((): number[] => []),
    lastReader: new Float64Array(n).fill(Infinity),
  };
  layers.forEach((l, i) => {
    for (const p of l.inputs ?? []) {
      const prev = plan.lastReader[p] ?? Infinity;
      plan.lastReader[p] = prev === Infinity ? i : Math.max(prev, i);
    }
  });
  plan.lastReader.forEach((r, i) => {
    if (r !== Infinity) plan.lastReadBy[r]?.push(i);
  });
  layers.forEach((l, i) => {
    const fromLayers = (l.inputs ?? []).reduce(
      (s, p) => s + (layers[p]?.activationOutElems ?? 0),
      0,
    );
    plan.extInElems[i] = Math.max(0, l.activationInElems - fromLayers);
    plan.actElems[i] = l.activationInElems + l.activationOutElems;
    plan.outElems[i] = l.activationOutElems;
    plan.weightBytes[i] = l.weightElems * bytes;
    plan.rows[i] = Math.max(1, l.rows?.out ?? 1);
    plan.kernel[i] = Math.max(1, l.rows?.kernel ?? 1);
    const movement = l.kind === 'other';
    plan.local[i] = l.kind === 'matmul' || (movement && !structure.localMovement) ? 0 : 1;
    let vector = ((l.fusedVectorElems ?? 0) * bytes * lanes) / vectorBytesPerMs;
    let matrix = 0;
    const ch = l.channels;
    if (ch === undefined) {
      const moved = l.activationInElems + l.activationOutElems;
      const elems = l.kind === 'pool' ? Math.max(moved, l.macs) : moved;
      vector += (elems * bytes * batch) / vectorBytesPerMs;
    } else {
      const cin = ch.in / ch.groups;
      const outPad = padTo(ch.out, c.npu) / ch.out;
      if (ch.groups > 1 && cin === 1) {
        vector += (l.macs * outPad * bytes * lanes) / vectorBytesPerMs;
      } else {
        const inPad = padTo(cin, ic) / cin;
        matrix = (2 * l.macs * outPad * inPad * lanes) / (peak * 1e9);
      }
    }
    plan.matrixMs[i] = matrix;
    plan.vectorMs[i] = vector;
  });
  return plan;
}

/** One launch unit of the partition: layers [first, last] and its modeled time. */
export interface LayerGroup {
  readonly first: number;
  readonly last: number;
  readonly ms: number;
  /** Slices (images x row bands) one pass of the group is cut into. */
  readonly slices: number;
}

/**
 * The cheapest partition of the layer order into groups (dynamic programming over the group's
 * last layer, as tpu-mlir's GroupMethod does over its clusters) and its total time in ms for one
 * launch of `plan.lanes` images.
 */
export function partition(
  plan: GroupPlan,
  k: GroupCoefficients,
): { ms: number; groups: LayerGroup[] } {
  const n = plan.matrixMs.length;
  const matrixScale = k.matrix * (plan.precision === 'fp32' ? k.fp32 : 1);
  const compute = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    compute[i] = (plan.matrixMs[i] ?? 0) * matrixScale + (plan.vectorMs[i] ?? 0) * k.vector;
  }
  const best = new Float64Array(n + 1).fill(Infinity);
  const choice = new Int32Array(n + 1);
  const slicesOf = new Float64Array(n + 1);
  best[0] = 0;
  const seen = new Int32Array(n).fill(-1);
  const actBytes = plan.bytes * plan.lanes;
  for (let i = 0; i < n; i++) {
    const before = best[i] ?? Infinity;
    let computeSum = 0;
    let haloSum = 0; // compute recomputed per extra row band: sum of kernel halos x compute/row
    let perRow = 0;
    let weights = 0;
    let maxAct = 0;
    let minRows = Infinity;
    let boundaryIn = 0;
    let boundaryOut = 0;
    for (let j = i; j < n && j < i + MAX_GROUP; j++) {
      if (j > i && plan.local[j] === 0) break;
      if (j === i + 1 && plan.local[i] === 0) break;
      const cj = compute[j] ?? 0;
      haloSum += ((plan.kernel[j] ?? 1) - 1) * perRow;
      perRow += cj / (plan.rows[j] ?? 1);
      computeSum += cj;
      weights += plan.weightBytes[j] ?? 0;
      maxAct = Math.max(maxAct, plan.actElems[j] ?? 0);
      minRows = Math.min(minRows, plan.rows[j] ?? 1);
      boundaryIn += plan.extInElems[j] ?? 0;
      for (const p of plan.inputs[j] ?? []) {
        if (p < i && seen[p] !== i) {
          seen[p] = i;
          boundaryIn += plan.outElems[p] ?? 0;
        }
      }
      boundaryOut += plan.outElems[j] ?? 0;
      for (const r of plan.lastReadBy[j] ?? []) {
        if (r >= i) boundaryOut -= plan.outElems[r] ?? 0;
      }
      // Slices: images first, then row bands, until one slice fits beside the weights.
      let slices = 1;
      let bands = 1;
      if (j > i) {
        const room = plan.lmemBytes - weights;
        if (room <= 0) break;
        slices = Math.max(1, Math.ceil((maxAct * actBytes) / room));
        bands = Math.ceil(slices / plan.lanes);
        if (bands > minRows) break;
      }
      const computeMs = computeSum + (bands - 1) * haloSum;
      const ddrMs = ((boundaryIn + boundaryOut) * actBytes + weights) / plan.ddrBytesPerMs;
      const ms = Math.max(computeMs, ddrMs) + (k.groupUs + (j - i + 1) * k.layerUs) / 1000;
      if (before + ms < (best[j + 1] ?? Infinity)) {
        best[j + 1] = before + ms;
        choice[j + 1] = i;
        slicesOf[j + 1] = slices;
      }
    }
  }
  const groups: LayerGroup[] = [];
  for (let end = n; end > 0;) {
    const first = choice[end] ?? 0;
    groups.push({
      first,
      last: end - 1,
      ms: (best[end] ?? 0) - (best[first] ?? 0),
      slices: slicesOf[end] ?? 1,
    });
    end = first;
  }
  return { ms: best[n] ?? 0, groups: groups.reverse() };
}

export interface GroupFitRow {
  readonly ms: number;
  readonly batch: number;
  readonly plan: GroupPlan;
}

const NAMES = ['matrix', 'fp32', 'vector', 'groupUs', 'layerUs'] as const;

export function predictGroups(row: GroupFitRow, k: GroupCoefficients): number {
  return partition(row.plan, k).ms / row.batch;
}

/**
 * Fits one chip's coefficients on its rows: least squares in log error (every row weighs the
 * same whatever its time), by coordinate descent in log space from fixed starting values, so the
 * result is deterministic.
 */
export function fitGroups(
  rows: readonly GroupFitRow[],
  structure: GroupStructure,
): GroupCoefficients {
  const free = NAMES.filter(
    (name) =>
      (name !== 'fp32' || structure.fp32Factor) && (name !== 'layerUs' || structure.perLayer),
  );
  const k: Record<(typeof NAMES)[number], number> = {
    matrix: 1.5,
    fp32: 1,
    vector: 10,
    groupUs: 10,
    layerUs: structure.perLayer ? 1 : 0,
  };
  const loss = () => rows.reduce((s, r) => s + Math.log(predictGroups(r, k) / r.ms) ** 2, 0);
  let current = loss();
  for (let step = 1; step > 0.05; step /= 2) {
    for (let improved = true; improved;) {
      improved = false;
      for (const name of free) {
        for (const dir of [1, -1]) {
          const old = k[name];
          k[name] = old * Math.exp(dir * step);
          const next = loss();
          if (next < current - 1e-12) {
            current = next;
            improved = true;
          } else {
            k[name] = old;
          }
        }
      }
    }
  }
  return { ...k };
}
