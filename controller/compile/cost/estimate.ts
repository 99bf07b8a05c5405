// Roofline latency estimate of a network on one TPU (pure). Each layer costs the larger of its
// compute time (operations / sustained rate) and its DDR time (weights + activations moved /
// sustained bandwidth), plus a fixed launch overhead. The result is always labelled `modeled`:
// it is a prediction from the chip table (chips.ts), never a measurement.
import { bmfError } from '../../../shared/errors.js';
import { chipSpec, precisionRates, type CostPrecision } from './chips.js';

export type CostLayerKind = 'conv' | 'matmul' | 'elementwise' | 'pool' | 'other';

/** One layer as the device runs it; counts are for ONE image (batch 1). */
export interface CostLayer {
  readonly name: string;
  readonly kind: CostLayerKind;
  /**
   * Multiply-accumulates for conv/matmul; for the other kinds, elementary vector operations
   * (one per output element for an Add, kernel-size per output element for a pool).
   */
  readonly macs: number;
  /** Parameter element count; bytes follow from the precision (weightBytes). */
  readonly weightElems: number;
  readonly activationInElems: number;
  readonly activationOutElems: number;
  /**
   * Channel layout of a conv/matmul layer: the TPU maps output channels to its lanes (NPUs) and
   * reduces input channels IC_PARALLEL at a time, so thin layers leave lanes idle (chips.ts).
   */
  /**
   * Elements (per image) of elementwise ops fused after a conv/matmul that are not part of the
   * conv pipeline (Sigmoid and the Mul of SiLU, Tanh...): extra passes of the vector lanes.
   */
  readonly fusedVectorElems?: number;
  /** The same passes in vector-lane instructions (a Sigmoid is an exp, an add and a divide). */
  readonly fusedVectorOps?: number;
  readonly channels?: {
    readonly in: number;
    readonly out: number;
    readonly groups: number;
  };
  /**
   * Indices (in the layer list) of the layers whose outputs this layer reads; the graph's own
   * inputs are not listed. Lets a model group layers as the compiler does (layer-group.ts).
   */
  readonly inputs?: readonly number[];
  /**
   * Output rows per image (every dimension after the channels except the last: H, or D x H) and
   * the kernel's height (1 for layers without a kernel): what slicing a layer group by rows costs.
   */
  readonly rows?: { readonly out: number; readonly kernel: number };
  /** The conv/pool kernel's spatial shape (ONNX kernel_shape: [kh, kw], or [kd, kh, kw]). */
  readonly kernelShape?: readonly number[]; /**
   * A data-movement layer tpu-mlir can run from local memory inside a layer group: a Concat along
   * the channels of a 3-D or 4-D tensor (tpu::ConcatOp::LocalGenSupport), a nearest Resize by one
   * integer factor on H and W (canonicalized to tpu::UpsampleOp, which has local codegen).
   */
  readonly runsInLayerGroup?: true;
  /**
   * A copy tpu-mlir does not run at all for one image: its output is a view of its input's
   * buffer (a step-1 Slice of one axis with nothing but the image before it, `fusible` in
   * tpu::SliceOp::parseParam) or its producers write straight into its buffer (a Concat with
   * nothing but the image before its axis, `only_merge` in the AddressAssign pass's
   * ConcatFusePattern). Both are in-place in BMAddressAssign::isInPlaceOp and emit no command.
   * With several images the dimension before the axis is the batch and the copy runs.
   */
  readonly inPlaceAtBatch1?: 'slice' | 'concat';
}

export type LayerBound = 'compute' | 'memory';

export interface LayerEstimate {
  readonly name: string;
  readonly ms: number;
  readonly bound: LayerBound;
}

export interface LatencyEstimate {
  readonly chip: string;
  readonly precision: CostPrecision;
  readonly batch: number;
  /** Device time of one launch with `batch` images. */
  readonly totalMs: number;
  readonly perImageMs: number;
  readonly perLayer: readonly LayerEstimate[];
  /** Always true: this figure comes from the cost model, not from a device. */
  readonly modeled: true;
}

const BYTES_PER_ELEMENT: Readonly<Record<CostPrecision, number>> = {
  fp32: 4,
  fp16: 2,
  bf16: 2,
  int8: 1,
};

/** Bytes of a layer's parameters at a precision; INT8 keeps an int32 bias per output channel,
 *  a negligible difference that the model ignores. */
export function weightBytes(layer: Pick<CostLayer, 'weightElems'>, precision: CostPrecision) {
  return layer.weightElems * BYTES_PER_ELEMENT[precision];
}

function checkLayer(layer: CostLayer): void {
  for (const field of ['macs', 'weightElems', 'activationInElems', 'activationOutElems'] as const) {
    const v = layer[field];
    if (!Number.isFinite(v) || v < 0) {
      throw bmfError('BMF_ERR_MODEL_UNSUPPORTED', {
        reason: `cost layer ${layer.name}: ${field} must be a finite number >= 0, got ${v}`,
      });
    }
  }
}

export function estimateLatency(
  layers: readonly CostLayer[],
  chip: string,
  precision: CostPrecision,
  options: { readonly batch?: number } = {},
): LatencyEstimate {
  const batch = options.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) {
    throw bmfError('BMF_ERR_USAGE', { reason: `batch must be an integer >= 1, got ${batch}` });
  }
  const spec = chipSpec(chip);
  const { peakTeraOps, matrixEfficiency } = precisionRates(spec, precision);
  // INT8 in 4N store mode computes and moves whole groups of images (chips.ts int8BatchGroup).
  const group = precision === 'int8' ? spec.int8BatchGroup : 1;
  const laneBatch = Math.ceil(batch / group) * group;
  const matrixOpsPerMs = peakTeraOps * 1e9 * matrixEfficiency;
  const vectorOpsPerMs = peakTeraOps * 1e9 * spec.vectorFraction;
  const bytesPerMs = spec.memoryBandwidthGBs * 1e6 * spec.memoryEfficiency;
  const elementBytes = BYTES_PER_ELEMENT[precision];

  const perLayer = layers.map((layer): LayerEstimate => {
    checkLayer(layer);
    const matrix = layer.kind === 'conv' || layer.kind === 'matmul';
    // A MAC is two operations (multiply, add), the convention behind TOPS figures.
    const computeMs = matrix
      ? (2 * layer.macs * laneBatch) / matrixOpsPerMs
      : (layer.macs * laneBatch) / vectorOpsPerMs;
    const activationBytes =
      (layer.activationInElems + layer.activationOutElems) *
      laneBatch *
      elementBytes *
      spec.activationDdrShare;
    // Weights are read once per launch, whatever the batch.
    const memoryMs = (weightBytes(layer, precision) + activationBytes) / bytesPerMs;
    return {
      name: layer.name,
      ms: Math.max(computeMs, memoryMs) + spec.layerOverheadUs / 1000,
      bound: computeMs >= memoryMs ? 'compute' : 'memory',
    };
  });
  const totalMs = perLayer.reduce((sum, l) => sum + l.ms, 0);
  return {
    chip: spec.chip,
    precision,
    batch,
    totalMs,
    perImageMs: totalMs / batch,
    perLayer,
    modeled: true,
  };
}
