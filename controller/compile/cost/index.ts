// TPU cost model: a modeled (never measured) device latency per network, chip and precision.
export {
  chipSpec,
  chipSpecs,
  precisionRates,
  COST_PRECISIONS,
  type Chip,
  type ChipSpec,
  type CostPrecision,
} from './chips.js';
export {
  estimateLatency,
  weightBytes,
  type CostLayer,
  type CostLayerKind,
  type LatencyEstimate,
  type LayerBound,
  type LayerEstimate,
} from './estimate.js';
export { layersFromGraph, type GraphNodeInfo } from './graph.js';
export { estimateGroupLatency, GROUP_COEFFICIENTS, GROUP_STRUCTURE } from './group-estimate.js';
export {
  costConfidence,
  COVERED_MATRIX_SHARE,
  COVERED_OTHER_LAYERS,
  type CostConfidence,
  type KindShare,
} from './confidence.js';
