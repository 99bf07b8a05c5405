// Lane geometry of the Sophon TPUs: what the layer-group cost model (layer-group.ts) and the
// cost-fit benchmark's per-kind roofline (bench/cost/per-kind.ts) derive a layer's compute time
// from. Pure.
import type { CostPrecision } from './chips.js';

/**
 * Lane geometry from tpu-mlir include/tpu_mlir/Backend/BM168x/{BM1684,BM1684X,BM1688}.h
 * (NPU_NUM, EU_BYTES, IC_PARALLEL, LMEM_BYTES per NPU: 512, 256, 128 KiB); the clock follows from the FP32 peak (NPU_NUM x EU_BYTES/4
 * lanes x 2 ops per cycle). Peaks and the DDR figure as in controller/compile/cost/chips.ts.
 */
export const LANES: Readonly<
  Record<
    string,
    {
      npu: number;
      euBytes: number;
      /** Input channels reduced per cycle at INT8; 1 = no input-channel parallelism. */
      icParallelInt8: number;
      peakTeraOps: Partial<Record<CostPrecision, number>>;
      ddrGBs: number;
      /** INT8 computes groups of 4 images (4N store mode). */
      int8Group: number;
      /** Local memory, NPU_NUM x LMEM_BYTES. */
      lmemBytes: number;
      /**
       * At INT8, 3-D convs and pools run only outside layer groups: tpu-mlir's
       * Conv3DOp/Pool3DOp::LocalGenSupport fails for a quantized input on BM1684.
       */
      int8Global3d?: boolean;
      /**
       * An FP32 depthwise conv runs on the conv unit as a grouped conv (BM1684's local
       * Conv2D codegen); its INT8 one on the pooling path.
       */
      fp32DepthwiseOnConv?: boolean;
    }
  >
> = {
  bm1684: {
    npu: 64,
    euBytes: 128,
    icParallelInt8: 1,
    peakTeraOps: { fp32: 2.2, int8: 17.6 },
    ddrGBs: 64,
    int8Group: 4,
    lmemBytes: 64 * 512 * 1024,
    int8Global3d: true,
    fp32DepthwiseOnConv: true,
  },
  bm1684x: {
    npu: 64,
    euBytes: 64,
    icParallelInt8: 64,
    peakTeraOps: { fp32: 2, fp16: 16, bf16: 16, int8: 32 },
    ddrGBs: 64,
    int8Group: 1,
    lmemBytes: 64 * 256 * 1024,
  },
  bm1688: {
    npu: 32,
    euBytes: 16,
    icParallelInt8: 32,
    peakTeraOps: { fp32: 0.25, fp16: 2, bf16: 2, int8: 8 },
    ddrGBs: 32,
    int8Group: 1,
    lmemBytes: 32 * 128 * 1024,
  },
};

const BYTES: Record<CostPrecision, number> = { fp32: 4, fp16: 2, bf16: 2, int8: 1 };
export const padTo = (x: number, m: number) => Math.ceil(x / m) * m;

/** One chip's lanes at one precision and batch: what every cost model here derives from LANES. */
export interface LaneGeometry {
  readonly chip: (typeof LANES)[string];
  /** The precision's peak, tera-ops per second. */
  readonly peak: number;
  readonly bytes: number;
  /** Images one launch computes (INT8 pads the batch to the chip's image group). */
  readonly lanes: number;
  readonly vectorBytesPerMs: number;
  /** Input channels reduced per cycle at this precision. */
  readonly ic: number;
}

export function laneGeometry(chip: string, precision: CostPrecision, batch: number): LaneGeometry {
  const c = LANES[chip];
  const peak = c?.peakTeraOps[precision];
  if (c === undefined || peak === undefined) throw new Error(`no lanes for ${chip} ${precision}`);
  const bytes = BYTES[precision];
  const lanes = precision === 'int8' ? padTo(batch, c.int8Group) : batch;
  const fp32Peak = c.peakTeraOps.fp32 ?? peak;
  const cyclesPerMs = (fp32Peak * 1e9) / (c.npu * (c.euBytes / 4) * 2);
  const vectorBytesPerMs = c.npu * c.euBytes * cyclesPerMs;
  const ic = precision === 'fp32' ? 1 : Math.max(1, c.icParallelInt8 / bytes);
  return { chip: c, peak, bytes, lanes, vectorBytesPerMs, ic };
}
