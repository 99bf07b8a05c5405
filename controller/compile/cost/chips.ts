// Per-chip figures for the TPU cost model. Peak rates are vendor marketing numbers (docs/vendor.md
// section 4 unless cited otherwise); bandwidths, overheads and efficiency factors are estimates,
// and the efficiency factors are FITTED to the published ResNet-50 bmrt_test rows of docs/vendor.md
// section 4 (test/fixtures/cost/published.json). Every latency derived from this table is a
// model, never a measurement.
import { bmfError } from '../../../shared/errors.js';
import { CHIPS, type Chip } from '../../../shared/bundle/manifest.js';

export type { Chip };
/** Precisions a BMODEL is compiled to (model_deploy.py --quantize, docs/vendor.md section 1). */
export const COST_PRECISIONS = ['fp32', 'fp16', 'bf16', 'int8'] as const;
export type CostPrecision = (typeof COST_PRECISIONS)[number];

export interface ChipSpec {
  readonly chip: Chip;
  /** Dense peak in tera-ops per second (INT8 TOPS, FP TFLOPS); absent = not supported. */
  readonly peakTeraOps: Readonly<Partial<Record<CostPrecision, number>>>;
  /** DDR bandwidth, GB/s (1e9 bytes/s). */
  readonly memoryBandwidthGBs: number;
  /** Fraction of the DDR bandwidth a layer's transfers sustain. */
  readonly memoryEfficiency: number;
  /**
   * Share of activation bytes that travel to DDR. The vendor compilers group layers so that
   * intermediate feature maps stay in the TPU's local memory (BM1684: 32 MB SRAM, docs/vendor.md
   * section 4); only group boundaries spill. One number per chip (estimate, see the fit note).
   */
  readonly activationDdrShare: number;
  /** Fixed cost per layer launch (command issue, synchronisation), microseconds. */
  readonly layerOverheadUs: number;
  /** Fraction of peak that conv/matmul layers reach, per precision. */
  readonly matrixEfficiency: Readonly<Partial<Record<CostPrecision, number>>>;
  /**
   * Elementwise, pooling and data-movement layers run on the vector lanes, not the MAC array:
   * their throughput as a fraction of the precision's peak (estimate).
   */
  readonly vectorFraction: number;
  /**
   * INT8 activations stored in 4N mode (four images interleaved per 32-bit word, docs/vendor.md
   * section 2: "BM1684 INT8 uses 4N batching"): a launch computes and moves whole groups of 4.
   */
  readonly int8BatchGroup: number;
}

/*
 * Sources and status of every figure:
 * - BM1684: 17.6 TOPS INT8, 2.2 TFLOPS FP32 (docs/vendor.md section 4, vendor spec). No FP16/BF16
 *   (model_deploy precisions, docs/vendor.md section 1). Bandwidth 64 GB/s: ESTIMATE (LPDDR4X
 *   4266 MT/s on a 128-bit bus; the vendor publishes no sustained figure we could find).
 * - BM1684X: 32 TOPS INT8, 16 TFLOPS FP16/BF16, 2 TFLOPS FP32 (docs/vendor.md section 4, "often
 *   quoted, unconfirmed"). Bandwidth 64 GB/s: ESTIMATE (same memory class as BM1684).
 * - BM1688, per core (the table models one of its two TPU cores, as the published
 *   "BM1688 (1 core)" row does): 16 TOPS INT8 for the chip is the commonly quoted vendor figure
 *   (not re-verified offline), so 8 per core. FP16/BF16 2 TFLOPS and FP32 0.25 TFLOPS per core:
 *   ESTIMATES consistent with the published row (46.9 ms FP32 for 8.2 GFLOP implies >= 0.17
 *   TFLOPS achieved). Bandwidth 32 GB/s per core: ESTIMATE (half of a 64 GB/s interface).
 * - CV186X (CV186AH): 7.2 TOPS INT8 (vendor product material, "7.2TOPS@INT8", quoted at
 *   iotdt.com/news/xingyezixun/1943.html); a single TPU core of the BM1688 family. FP16/BF16/FP32
 *   scaled from the BM1688 core by 7.2/8: ESTIMATES. Bandwidth 32 GB/s: ESTIMATE.
 * - Efficiency factors (matrixEfficiency) are FITTED per chip x precision to the batch-1
 *   ResNet-50 rows of docs/vendor.md section 4 (test/fixtures/cost/published.json); the batch-4
 *   rows are not fitted and serve as an out-of-sample check. BF16 reuses the FP16 factor (same
 *   MAC array width). CV186X reuses BM1688's factors (no published rows). memoryEfficiency,
 *   activationDdrShare, layerOverheadUs and vectorFraction are ESTIMATES chosen with the fit
 *   (BM1684X's 2 us overhead is what makes its unfitted INT8 batch-4 row come out right).
 */
const TABLE: Readonly<Record<Chip, ChipSpec>> = {
  bm1684: {
    chip: 'bm1684',
    peakTeraOps: { fp32: 2.2, int8: 17.6 },
    memoryBandwidthGBs: 64,
    memoryEfficiency: 0.85,
    activationDdrShare: 0.05,
    layerOverheadUs: 5,
    matrixEfficiency: { fp32: 0.67, int8: 0.56 },
    vectorFraction: 1 / 8,
    int8BatchGroup: 4,
  },
  bm1684x: {
    chip: 'bm1684x',
    peakTeraOps: { fp32: 2, fp16: 16, bf16: 16, int8: 32 },
    memoryBandwidthGBs: 64,
    memoryEfficiency: 0.85,
    activationDdrShare: 0.05,
    layerOverheadUs: 2,
    matrixEfficiency: { fp32: 0.48, fp16: 0.55, bf16: 0.55, int8: 0.37 },
    vectorFraction: 1 / 8,
    int8BatchGroup: 1,
  },
  bm1688: {
    chip: 'bm1688',
    peakTeraOps: { fp32: 0.25, fp16: 2, bf16: 2, int8: 8 },
    memoryBandwidthGBs: 32,
    memoryEfficiency: 0.85,
    activationDdrShare: 0.05,
    layerOverheadUs: 8,
    matrixEfficiency: { fp32: 0.72, fp16: 0.56, bf16: 0.56, int8: 0.48 },
    vectorFraction: 1 / 8,
    int8BatchGroup: 1,
  },
  cv186x: {
    chip: 'cv186x',
    peakTeraOps: { fp32: 0.225, fp16: 1.8, bf16: 1.8, int8: 7.2 },
    memoryBandwidthGBs: 32,
    memoryEfficiency: 0.85,
    activationDdrShare: 0.05,
    layerOverheadUs: 8,
    matrixEfficiency: { fp32: 0.72, fp16: 0.56, bf16: 0.56, int8: 0.48 },
    vectorFraction: 1 / 8,
    int8BatchGroup: 1,
  },
};

export function chipSpec(chip: string): ChipSpec {
  const spec = (TABLE as Readonly<Record<string, ChipSpec>>)[chip];
  if (spec === undefined) {
    throw bmfError('BMF_ERR_CHIP_UNKNOWN', { chip, known: CHIPS.join(', ') });
  }
  return spec;
}

/** Peak rate and fitted matrix efficiency, or BMF_ERR_PRECISION_UNSUPPORTED. */
export function precisionRates(
  spec: ChipSpec,
  precision: CostPrecision,
): { peakTeraOps: number; matrixEfficiency: number } {
  const peakTeraOps = spec.peakTeraOps[precision];
  const matrixEfficiency = spec.matrixEfficiency[precision];
  if (peakTeraOps === undefined || matrixEfficiency === undefined) {
    throw bmfError('BMF_ERR_PRECISION_UNSUPPORTED', { precision, chip: spec.chip });
  }
  return { peakTeraOps, matrixEfficiency };
}

export const chipSpecs: readonly ChipSpec[] = CHIPS.map((c) => TABLE[c]);
