// The modeled latency `bmfleet compile` prints: the layer-group model (layer-group.ts) with the
// structure and per-chip coefficients the cost-fit benchmark chose by leave-one-network-out and
// fitted on half of the vendor's published networks (`npm run bench -- cost-fit`, whose last
// lines check this table against a fresh fit; docs/cost-model.md). It beat the per-layer roofline
// (estimate.ts) on the held-out half: rows within +-25 %, worst error and FP32 -> FP16/INT8
// ratios. A chip without published rows (CV186X) keeps the roofline. Pure; always `modeled`.
import type { CostPrecision } from './chips.js';
import {
  estimateLatency,
  type CostLayer,
  type LatencyEstimate,
  type LayerEstimate,
} from './estimate.js';
import {
  groupPlan,
  layerComputeMs,
  partition,
  type GroupCoefficients,
  type GroupStructure,
} from './layer-group.js';

/**
 * The chosen structure: copies run alone on the DMA, fused activations by their lane
 * instructions, BM1684 INT8 lane work per image on 32-bit words, an FP32 conv factor, a cost per
 * layer, and the software pipeline's fill and drain exposed.
 */
export const GROUP_STRUCTURE: GroupStructure = {
  fp32Factor: true,
  perLayer: true,
  localMovement: false,
  mergeKernel: false,
  splitVector: false,
  movementOnDma: true,
  activationOps: true,
  int8LanesAsWords: true,
  pipelineFill: true,
};

/** Fitted by `npm run bench -- cost-fit` (FIT_KINDS half), copied at full precision. */
export const GROUP_COEFFICIENTS: Readonly<Record<string, GroupCoefficients>> = {
  bm1684: {
    matrix: 1.0309339181864583,
    fp32: 1,
    vector: 8.290291181804003,
    activation: 8.290291181804003,
    groupUs: 3.364740793413184e-9,
    layerUs: 16.65149496361018,
  },
  bm1684x: {
    matrix: 1.0309339181864583,
    fp32: 1.648721270700128,
    vector: 7.316156289466417,
    activation: 7.316156289466417,
    groupUs: 12.062302494209808,
    layerUs: 2.5535894580629277,
  },
  bm1688: {
    matrix: 1.1682011746071073,
    fp32: 1,
    vector: 4.168620196785084,
    activation: 4.168620196785084,
    groupUs: 1.6324551245395849,
    layerUs: 6.125742661881994,
  },
};

/**
 * Modeled device time of `layers` on `chip`: the cheapest partition into layer groups; each
 * group's time is shared among its layers by their compute (the per-layer figures the confidence
 * reads), and a layer is compute- or memory-bound as its group is. Input is checked, and bad input
 * rejected with the same typed errors, as by the roofline.
 */
export function estimateGroupLatency(
  layers: readonly CostLayer[],
  chip: string,
  precision: CostPrecision,
  options: { readonly batch?: number } = {},
): LatencyEstimate {
  const roofline = estimateLatency(layers, chip, precision, options);
  const k = GROUP_COEFFICIENTS[roofline.chip];
  if (k === undefined || layers.length === 0) return roofline;
  const { batch } = roofline;
  // BF16 runs on the FP16 MAC array width (chips.ts).
  const lanePrecision = precision === 'bf16' ? 'fp16' : precision;
  const plan = groupPlan(layers, roofline.chip, lanePrecision, batch, GROUP_STRUCTURE);
  const { ms, groups } = partition(plan, k);
  const compute = layerComputeMs(plan, k);
  const perLayer: LayerEstimate[] = [];
  for (const g of groups) {
    const size = g.last - g.first + 1;
    let sum = 0;
    for (let i = g.first; i <= g.last; i++) sum += compute[i] ?? 0;
    for (let i = g.first; i <= g.last; i++) {
      const share = sum > 0 ? (compute[i] ?? 0) / sum : 1 / size;
      perLayer[i] = {
        name: layers[i]?.name ?? '',
        ms: g.ms * share,
        bound: g.computeMs >= g.ddrMs ? 'compute' : 'memory',
      };
    }
  }
  return {
    chip: roofline.chip,
    precision,
    batch,
    totalMs: ms,
    perImageMs: ms / batch,
    perLayer,
    modeled: true,
  };
}
