// A layer-group cost model: what `bmfleet compile` prints (group-estimate.ts) and the cost-fit
// benchmark fits and checks (bench/cost-fit.ts, docs/cost-model.md).
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
// - a layer the vendor's INT8 BModel keeps in float (its quantize table) runs at that float
//   precision: F16 on BM1684X/BM1688, F32 on BM1684 (tpu-mlir utils/fp_layer_search.py FLOAT_MAP);
// - optionally, a conv with few input channels folds kernel rows/columns into the reduced
//   channels before padding them to IC_PARALLEL, as tpu-mlir's 3ic weight reorder does
//   (lib/Dialect/Tpu/Transforms/WeightReorder/BM1684X/Conv2D.cpp, use_3ic_optimize), and a
//   Conv3D reduces its input channels times the kernel depth (Conv3D.cpp, filter_reorder).
// - optionally, a fused activation costs its lane instructions per element (graph.ts
//   EU_OPS_PER_ELEMENT: a sigmoid is an exp, an add and a divide), not one pass: depthwise MACs
//   and activations are different lane work, weighed by their instruction counts, not a factor.
// - optionally, BM1684's INT8 lane work runs per image on 32-bit words: its 4N packing of four
//   images serves the conv unit only.
// - optionally, chip- and op-specific lowering read from tpu-mlir's backends: BM1684's quantized
//   3-D convs and pools outside layer groups, its FP32 depthwise on the conv unit, INT8 depthwise
//   on 32-bit accumulators (GroupStructure global3dInt8, depthwiseByUnit, depthwiseInt32).
// Fitted per chip (few numbers): 1 / conv efficiency, a vector-lane factor, the launch cost per
// group, and optionally an FP32 conv factor and a cost per layer inside a group.
import type { CostPrecision } from './chips.js';
import type { CostLayer } from './estimate.js';
import { laneGeometry, padTo } from './lanes.js';

/** Longest group the partition considers (tpu-mlir bounds its search the same way). */
const MAX_GROUP = 64;
/** Sustained share of the DDR bandwidth (as for the weights in per-kind.ts; not fitted). */
const DDR_EFFICIENCY = 0.85;

/** Float type of the layers an INT8 BModel keeps unquantized (fp_layer_search.py FLOAT_MAP). */
const MIXED_FLOAT: Readonly<Record<string, CostPrecision>> = {
  bm1684: 'fp32',
  bm1684x: 'fp16',
  bm1688: 'fp16',
};

/**
 * Input channels the conv's reduction sees after tpu-mlir's 3ic reorder (Conv2D.cpp): kernel
 * rows and/or columns merged into the channels when they fit IC_PARALLEL.
 */
export function reducedChannels(cin: number, kh: number, kw: number, icParallel: number) {
  if (cin * kh * kw <= icParallel && kh > 1 && kw > 1) return cin * kh * kw;
  if (cin * kw <= icParallel && kw > 1 && (kh < kw || cin * kh > icParallel)) return cin * kw;
  if (cin * kh <= icParallel && kh > 1) return cin * kh;
  return cin;
}

/** What a network run costs at unit coefficients; built once per row, reused by the fit. */
export interface GroupPlan {
  readonly precision: CostPrecision;
  readonly lanes: number;
  readonly lmemBytes: number;
  readonly ddrBytesPerMs: number;
  /** Per layer: conv/matmul ms at peak (padding included), vector ms at full lane rate. */
  readonly matrixMs: Float64Array;
  readonly vectorMs: Float64Array;
  /** Per layer: fused activation passes (Sigmoid, SiLU's Mul...) at full lane rate. */
  readonly activationMs: Float64Array;
  /** 1 where the layer's conv/matmul runs at FP32 (what the FP32 conv factor scales). */
  readonly fp32: Uint8Array;
  /**
   * Per layer and launch, in bytes at the layer's own precision: largest input + output, output,
   * graph input.
   */
  readonly actBytes: Float64Array;
  readonly outBytes: Float64Array;
  readonly extInBytes: Float64Array;
  readonly weightBytes: Float64Array;
  readonly rows: Float64Array;
  readonly kernel: Float64Array;
  readonly local: Uint8Array;
  /** 1 where the layer is an in-place copy that emits no command (GroupStructure.inPlaceCopies). */
  readonly inPlace: Uint8Array;
  readonly inputs: readonly (readonly number[])[];
  /** Layers whose last reader is this layer (their output leaves LMEM after it). */
  readonly lastReadBy: readonly (readonly number[])[];
  /** Index of each layer's last reader; Infinity for the network's outputs. */
  readonly lastReader: Float64Array;
  /** The per-layer cost is paid per loop iteration (GroupStructure.layerPerSlice). */
  readonly layerPerSlice: boolean;
  /** One slice of the lesser of compute and DDR time is not hidden (GroupStructure.pipelineFill). */
  readonly pipelineFill: boolean;
  readonly fillActivationsOnly: boolean;
}

export interface GroupStructure {
  /** A separate conv factor at FP32 (the FP32 path does not use the FP16/INT8 cube). */
  readonly fp32Factor: boolean;
  /** A cost per layer inside a group (per-layer synchronisation) besides the launch cost. */
  readonly perLayer: boolean;
  /** Concat / Resize / Slice layers may join a group. */
  readonly localMovement: boolean;
  /** Thin first convs fold their kernel into the reduced channels (tpu-mlir 3ic). */
  readonly mergeKernel: boolean;
  /**
   * Fused activation passes (a sigmoid is an exp and a divide: many lane instructions per
   * element) get their own factor, apart from plain lane work (depthwise MACs, pools, adds, data
   * movement: one or a few instructions per element).
   */
  readonly splitVector: boolean;
  /** Data movement run on its own costs only its DDR traffic (GDMA), no vector-lane time. */
  readonly movementOnDma: boolean;
  /**
   * Fused activation passes cost their lane instructions per element (a Sigmoid is an exp, an add
   * and a divide: graph.ts EU_OPS_PER_ELEMENT), at the same lane factor as the rest of the vector
   * work, instead of one lane pass per element.
   */
  readonly activationOps?: boolean;
  /**
   * A depthwise conv runs as a per-channel conv (tpu-mlir lowers it to a conv with groups): one
   * MAC per lane per cycle, scaled by the conv efficiency instead of the vector-lane factor.
   */
  readonly depthwiseOnConv?: boolean;
  /**
   * On a chip that packs INT8 images four to a 32-bit word (BM1684's 4N), the vector lanes work
   * per image on 32-bit words: INT8 lane work costs as FP32 per image, and batch 1 does not pay
   * for four images (only the conv unit uses the packing).
   */
  readonly int8LanesAsWords?: boolean;
  /**
   * The cost per layer in a group is paid once per loop iteration of the group (its slices: images
   * x row bands), as tpu-mlir's CycleCalculator::getGroupCycle charges each layer's local cycles
   * per iteration of the group's software pipeline (instruction issue per slice, not per layer).
   */
  readonly layerPerSlice?: boolean;
  /**
   * The data-movement layers tpu-mlir runs from local memory (a channel Concat, a nearest Resize
   * by an integer factor: CostLayer.runsInLayerGroup) join layer groups; the others (Transpose,
   * reductions, Pad...) still run on their own.
   */
  readonly groupedCopies?: boolean;
  /**
   * The group's software pipeline (load slice i+1, compute slice i, store slice i-1) hides the
   * lesser of compute and DDR time except for one slice at its start and end: a group of L loop
   * iterations costs max(compute, DDR) + min(compute, DDR) / L (CycleCalculator::getGroupCycle's
   * filling and draining steps); a group run in one iteration loads, computes and stores in turn.
   */
  readonly pipelineFill?: boolean;
  /**
   * As pipelineFill, but only the group's boundary activations are exposed: the timesteps inside
   * one iteration load a later layer's weights while an earlier layer computes (tpu-mlir's
   * TimeStep assignment), so weights stay hidden; a slice's input load and output store do not.
   */
  readonly fillActivationsOnly?: boolean;
  /**
   * A Slice that is a view of its input and a Concat its producers write into (for one image:
   * CostLayer.inPlaceAtBatch1) cost nothing when run on their own: tpu-mlir's address assignment
   * makes them in-place (BMAddressAssign::isInPlaceOp) and their global codegen emits nothing
   * (tpu::SliceOp / tpu::ConcatOp codegen_global_bm1684x return early). The tensors around them
   * still cross DDR as the neighbouring groups' boundaries. Not a Concat in BM1684's INT8 4N
   * layout (ConcatFusePattern excludes it).
   */
  readonly inPlaceCopies?: boolean;
  /**
   * Chip-specific lowering: on a chip whose backend cannot run a quantized 3-D conv or pool in a
   * layer group (BM1684: Conv3DOp/Pool3DOp::LocalGenSupport, lanes.ts int8Global3d), such a layer
   * at INT8 runs alone, its input and output through DDR.
   */
  readonly global3dInt8?: boolean;
  /**
   * Chip-specific lowering: where the backend runs an FP32 depthwise conv on the conv unit as a
   * grouped conv (BM1684, lanes.ts fp32DepthwiseOnConv), it costs its MACs at the conv factor;
   * INT8 depthwise stays lane work (BM1684 runs it on the pooling path).
   */
  readonly depthwiseByUnit?: boolean;
  /**
   * Op-specific lowering: an INT8 depthwise conv accumulates into a 32-bit buffer before it is
   * requantized (tpu-mlir BM1684X/Conv2D.cpp getBufferSize_bm1684x reserves int32_size for
   * is_dw; BM1688 shares that backend), so its lane work moves 4 bytes per element, not 1. BM1684
   * is left to int8LanesAsWords (its lanes already work on 32-bit words).
   */
  readonly depthwiseInt32?: boolean;
}

export interface GroupCoefficients {
  readonly matrix: number;
  readonly fp32: number;
  readonly vector: number;
  /** Factor of the fused activation passes; the vector factor when not split. */
  readonly activation: number;
  readonly groupUs: number;
  readonly layerUs: number;
}

/**
 * @param floatLayers indices of the layers an INT8 BModel keeps in float (the demo's quantize
 * table); ignored at the other precisions.
 */
export function groupPlan(
  layers: readonly CostLayer[],
  chip: string,
  precision: CostPrecision,
  batch: number,
  structure: GroupStructure,
  floatLayers: ReadonlySet<number> = new Set(),
): GroupPlan {
  const launch = laneGeometry(chip, precision, batch);
  const { chip: c, lanes, vectorBytesPerMs } = launch;
  const n = layers.length;
  const plan = {
    precision,
    lanes,
    lmemBytes: c.lmemBytes,
    ddrBytesPerMs: c.ddrGBs * 1e6 * DDR_EFFICIENCY,
    matrixMs: new Float64Array(n),
    vectorMs: new Float64Array(n),
    activationMs: new Float64Array(n),
    fp32: new Uint8Array(n),
    actBytes: new Float64Array(n),
    outBytes: new Float64Array(n),
    extInBytes: new Float64Array(n),
    weightBytes: new Float64Array(n),
    rows: new Float64Array(n),
    kernel: new Float64Array(n),
    local: new Uint8Array(n),
    inPlace: new Uint8Array(n),
    inputs: layers.map((l) => l.inputs ?? []),
    lastReadBy: layers.map((): number[] => []),
    lastReader: new Float64Array(n).fill(Infinity),
    layerPerSlice: structure.layerPerSlice === true,
    pipelineFill: structure.pipelineFill === true,
    fillActivationsOnly: structure.fillActivationsOnly === true,
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
    const own =
      precision === 'int8' && floatLayers.has(i) ? (MIXED_FLOAT[chip] ?? 'fp32') : precision;
    // INT8 runs images in groups of int8Group (4N on BM1684); a float layer runs the batch.
    const {
      peak: ownPeak,
      bytes,
      lanes: images,
      ic,
    } = own === precision ? launch : laneGeometry(chip, own, batch);
    const fromLayers = (l.inputs ?? []).reduce(
      (s, p) => s + (layers[p]?.activationOutElems ?? 0),
      0,
    );
    plan.fp32[i] = own === 'fp32' ? 1 : 0;
    plan.extInBytes[i] = Math.max(0, l.activationInElems - fromLayers) * bytes * images;
    plan.actBytes[i] = (l.activationInElems + l.activationOutElems) * bytes * images;
    plan.outBytes[i] = l.activationOutElems * bytes * images;
    plan.weightBytes[i] = l.weightElems * bytes;
    plan.rows[i] = Math.max(1, l.rows?.out ?? 1);
    plan.kernel[i] = Math.max(1, l.rows?.kernel ?? 1);
    const movement = l.kind === 'other';
    const movesInGroup =
      structure.localMovement || (structure.groupedCopies === true && l.runsInLayerGroup === true);
    const packed = own === 'int8' && c.int8Group > 1;
    plan.inPlace[i] =
      structure.inPlaceCopies === true &&
      batch === 1 &&
      (l.inPlaceAtBatch1 === 'slice' || (l.inPlaceAtBatch1 === 'concat' && !packed))
        ? 1
        : 0;
    const is3d = (l.kind === 'conv' || l.kind === 'pool') && (l.kernelShape?.length ?? 0) === 3;
    const global3d =
      structure.global3dInt8 === true && c.int8Global3d === true && own === 'int8' && is3d;
    plan.local[i] = l.kind === 'matmul' || (movement && !movesInGroup) || global3d ? 0 : 1;
    const words = structure.int8LanesAsWords && own === 'int8' && c.int8Group > 1;
    // Bytes the vector lanes move per element of one launch: per image, or per 4N word.
    const laneBytes = words ? 4 * batch : bytes * images;
    const passes = structure.activationOps ? (l.fusedVectorOps ?? 0) : (l.fusedVectorElems ?? 0);
    plan.activationMs[i] = (passes * laneBytes) / vectorBytesPerMs;
    let vector = 0;
    let matrix = 0;
    const ch = l.channels;
    // A pure copy (Concat, Transpose, Slice, Resize: one operation per output element) run on
    // its own is a DDR-to-DDR move by the DMA engine; its group's DDR term already counts it.
    const copyOnDma =
      structure.movementOnDma && movement && !movesInGroup && l.macs <= l.activationOutElems;
    if (ch === undefined && !copyOnDma) {
      const moved = l.activationInElems + l.activationOutElems;
      const elems = l.kind === 'pool' ? Math.max(moved, l.macs) : moved;
      vector += (elems * (words ? 4 * batch : bytes * batch)) / vectorBytesPerMs;
    } else if (ch !== undefined) {
      const cin = ch.in / ch.groups;
      const outPad = padTo(ch.out, c.npu) / ch.out;
      if (ch.groups > 1 && cin === 1) {
        const int32 = structure.depthwiseInt32 === true && own === 'int8' && c.int8Group === 1;
        const dwBytes = int32 ? 4 * images : laneBytes;
        const laneMs = (l.macs * outPad * dwBytes) / vectorBytesPerMs;
        const onConv =
          structure.depthwiseByUnit === true && c.fp32DepthwiseOnConv === true && own === 'fp32';
        if (structure.depthwiseOnConv || onConv) matrix = laneMs;
        else vector += laneMs;
      } else {
        const k = l.kernelShape ?? [];
        let reduced = cin;
        if (structure.mergeKernel && ic > 1 && k.length === 2) {
          reduced = reducedChannels(cin, k[0] ?? 1, k[1] ?? 1, ic);
        } else if (structure.mergeKernel && ic > 1 && k.length === 3) {
          // Conv3D reduces input channels x kernel depth together (Conv3D.cpp filter_reorder).
          reduced = cin * (k[0] ?? 1);
        }
        const inPad = padTo(reduced, ic) / reduced;
        matrix = (2 * l.macs * outPad * inPad * images) / (ownPeak * 1e9);
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
  /** Its compute (halo rows included) and DDR time, before overheads: what bounds it. */
  readonly computeMs: number;
  readonly ddrMs: number;
}

/** Each layer's compute time in ms at the coefficients (conv, vector lanes, activations). */
export function layerComputeMs(plan: GroupPlan, k: GroupCoefficients): Float64Array {
  const n = plan.matrixMs.length;
  const compute = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const matrixScale = k.matrix * (plan.fp32[i] === 1 ? k.fp32 : 1);
    compute[i] =
      (plan.matrixMs[i] ?? 0) * matrixScale +
      (plan.vectorMs[i] ?? 0) * k.vector +
      (plan.activationMs[i] ?? 0) * k.activation;
  }
  return compute;
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
  const { layerPerSlice, pipelineFill, fillActivationsOnly } = plan;
  const compute = layerComputeMs(plan, k);
  const best = new Float64Array(n + 1).fill(Infinity);
  const choice = new Int32Array(n + 1);
  const slicesOf = new Float64Array(n + 1);
  const computeOf = new Float64Array(n + 1);
  const ddrOf = new Float64Array(n + 1);
  best[0] = 0;
  const seen = new Int32Array(n).fill(-1);
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
      maxAct = Math.max(maxAct, plan.actBytes[j] ?? 0);
      minRows = Math.min(minRows, plan.rows[j] ?? 1);
      boundaryIn += plan.extInBytes[j] ?? 0;
      for (const p of plan.inputs[j] ?? []) {
        if (p < i && seen[p] !== i) {
          seen[p] = i;
          boundaryIn += plan.outBytes[p] ?? 0;
        }
      }
      boundaryOut += plan.outBytes[j] ?? 0;
      for (const r of plan.lastReadBy[j] ?? []) {
        if (r >= i) boundaryOut -= plan.outBytes[r] ?? 0;
      }
      // Slices: images first, then row bands, until one slice fits beside the weights.
      let slices = 1;
      let bands = 1;
      if (j > i) {
        const room = plan.lmemBytes - weights;
        if (room <= 0) break;
        slices = Math.max(1, Math.ceil(maxAct / room));
        bands = Math.ceil(slices / plan.lanes);
        if (bands > minRows) break;
      }
      // Loop iterations: images first, then row bands of every image (nsecs x hsecs); a layer
      // on its own is sliced by the same rule against the whole local memory.
      const cut = j > i ? slices : Math.max(1, Math.ceil(maxAct / plan.lmemBytes));
      const loops = cut <= plan.lanes ? cut : plan.lanes * Math.ceil(cut / plan.lanes);
      const layerCost = (j - i + 1) * k.layerUs * (layerPerSlice ? loops : 1);
      const computeMs = computeSum + (bands - 1) * haloSum;
      const ddrMs = (boundaryIn + boundaryOut + weights) / plan.ddrBytesPerMs;
      const fillDdrMs = fillActivationsOnly ? ddrMs - weights / plan.ddrBytesPerMs : ddrMs;
      const exposed = pipelineFill ? Math.min(computeMs, fillDdrMs) / loops : 0;
      // An in-place copy on its own emits no command: no launch, no traffic of its own.
      const ms =
        j === i && plan.inPlace[i] === 1
          ? 0
          : Math.max(computeMs, ddrMs) + exposed + (k.groupUs + layerCost) / 1000;
      if (before + ms < (best[j + 1] ?? Infinity)) {
        best[j + 1] = before + ms;
        choice[j + 1] = i;
        slicesOf[j + 1] = slices;
        computeOf[j + 1] = computeMs;
        ddrOf[j + 1] = ddrMs;
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
      computeMs: computeOf[end] ?? 0,
      ddrMs: ddrOf[end] ?? 0,
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

const NAMES = ['matrix', 'fp32', 'vector', 'activation', 'groupUs', 'layerUs'] as const;

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
      (name !== 'fp32' || structure.fp32Factor) &&
      (name !== 'layerUs' || structure.perLayer) &&
      (name !== 'activation' || structure.splitVector),
  );
  const k: Record<(typeof NAMES)[number], number> = {
    matrix: 1.5,
    fp32: 1,
    vector: 10,
    activation: 10,
    groupUs: 10,
    layerUs: structure.perLayer ? 1 : 0,
  };
  // Unsplit, the activation passes share the vector factor.
  const coefficients = () => (structure.splitVector ? k : { ...k, activation: k.vector });
  const loss = () => {
    const c = coefficients();
    return rows.reduce((s, r) => s + Math.log(predictGroups(r, c) / r.ms) ** 2, 0);
  };
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
  return { ...coefficients() };
}
