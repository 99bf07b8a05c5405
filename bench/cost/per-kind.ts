// A per-kind roofline for the cost-fit benchmark (bench/cost-fit.ts), fitted on a fixed half of
// the published networks and checked on the other half. It is an experiment beside the shipped
// model (controller/compile/cost), not the shipped model: docs/cost-model.md gives its result.
//
// Per layer, on one chip and precision, in ms for one launch of `lanes` images:
// - conv/matmul: 2 * MACs / peak, with output channels padded to the chip's NPU count and input
//   channels (per group) padded to its IC_PARALLEL (the TPU maps output channels to NPUs and
//   reduces IC_PARALLEL input channels per cycle, so thin layers leave lanes idle);
// - depthwise conv, pools, elementwise, data movement (Concat, Resize, Slice, Transpose...) and
//   fused vector passes (SiLU): bytes over the vector lanes (NPU_NUM x EU_BYTES per cycle);
// - weights: bytes / DDR bandwidth;
// - a fixed launch cost per layer, one for conv/matmul layers and one for the others.
// The coefficients (1 / efficiency per precision, vector-lane factor, two launch costs) are
// fitted per chip by non-negative least squares in relative error.
import type { CostLayer, CostPrecision } from '../../controller/compile/cost/index.js';

/**
 * Lane geometry from tpu-mlir include/tpu_mlir/Backend/BM168x/{BM1684,BM1684X,BM1688}.h
 * (NPU_NUM, EU_BYTES, IC_PARALLEL); the clock follows from the FP32 peak (NPU_NUM x EU_BYTES/4
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
  },
  bm1684x: {
    npu: 64,
    euBytes: 64,
    icParallelInt8: 64,
    peakTeraOps: { fp32: 2, fp16: 16, int8: 32 },
    ddrGBs: 64,
    int8Group: 1,
  },
  bm1688: {
    npu: 32,
    euBytes: 16,
    icParallelInt8: 32,
    peakTeraOps: { fp32: 0.25, fp16: 2, int8: 8 },
    ddrGBs: 32,
    int8Group: 1,
  },
};

const BYTES: Record<CostPrecision, number> = { fp32: 4, fp16: 2, bf16: 2, int8: 1 };
const padTo = (x: number, m: number) => Math.ceil(x / m) * m;

/** Features of one network run: ms at full rate per kind, and layer counts. */
export interface KindFeatures {
  /** conv/matmul at 100 % of peak, lane padding included. */
  matrixMs: number;
  /** Vector-lane passes at full lane rate. */
  vectorMs: number;
  weightMs: number;
  matrixLayers: number;
  otherLayers: number;
}

export function kindFeatures(
  layers: readonly CostLayer[],
  chip: string,
  precision: CostPrecision,
  batch: number,
): KindFeatures {
  const c = LANES[chip];
  const peak = c?.peakTeraOps[precision];
  if (c === undefined || peak === undefined) throw new Error(`no lanes for ${chip} ${precision}`);
  const bytes = BYTES[precision];
  const lanes = precision === 'int8' ? padTo(batch, c.int8Group) : batch;
  const fp32Peak = c.peakTeraOps.fp32 ?? peak;
  const cyclesPerMs = (fp32Peak * 1e9) / (c.npu * (c.euBytes / 4) * 2);
  const vectorBytesPerMs = c.npu * c.euBytes * cyclesPerMs;
  const ic = precision === 'fp32' ? 1 : Math.max(1, c.icParallelInt8 / bytes);
  const f: KindFeatures = {
    matrixMs: 0,
    vectorMs: 0,
    weightMs: 0,
    matrixLayers: 0,
    otherLayers: 0,
  };
  for (const l of layers) {
    f.weightMs += (l.weightElems * bytes) / (c.ddrGBs * 1e6 * 0.85);
    f.vectorMs += ((l.fusedVectorElems ?? 0) * bytes * lanes) / vectorBytesPerMs;
    const ch = l.channels;
    if (ch === undefined) {
      f.otherLayers++;
      const elems = l.activationInElems + l.activationOutElems;
      f.vectorMs += (elems * bytes * batch) / vectorBytesPerMs;
      continue;
    }
    f.matrixLayers++;
    const cin = ch.in / ch.groups;
    const outPad = padTo(ch.out, c.npu) / ch.out;
    if (ch.groups > 1 && cin === 1) {
      // Depthwise: one input channel per output, run on the vector lanes.
      f.vectorMs += (l.macs * outPad * bytes * lanes) / vectorBytesPerMs;
      continue;
    }
    const inPad = padTo(cin, ic) / cin;
    f.matrixMs += (2 * l.macs * outPad * inPad * lanes) / (peak * 1e9);
  }
  return f;
}

export interface KindCoefficients {
  /** 1 / efficiency of conv/matmul, per precision. */
  readonly matrix: Partial<Record<CostPrecision, number>>;
  readonly vector: number;
  readonly matrixLayerUs: number;
  readonly otherLayerUs: number;
}

export function predictKinds(f: KindFeatures, k: KindCoefficients, precision: CostPrecision) {
  return (
    f.matrixMs * (k.matrix[precision] ?? Number.NaN) +
    f.vectorMs * k.vector +
    f.weightMs +
    (f.matrixLayers * k.matrixLayerUs + f.otherLayers * k.otherLayerUs) / 1000
  );
}

/** Non-negative least squares by cyclic coordinate descent (a handful of unknowns). */
function nnls(a: number[][], b: number[]): number[] {
  const n = a[0]?.length ?? 0;
  const x = new Array<number>(n).fill(0);
  for (let sweep = 0; sweep < 5000; sweep++) {
    let moved = 0;
    for (let j = 0; j < n; j++) {
      let num = 0;
      let den = 0;
      a.forEach((row, i) => {
        const rj = row[j] ?? 0;
        const others = row.reduce((s, v, k) => (k === j ? s : s + v * (x[k] ?? 0)), 0);
        num += rj * ((b[i] ?? 0) - others);
        den += rj * rj;
      });
      const next = den > 0 ? Math.max(0, num / den) : 0;
      moved = Math.max(moved, Math.abs(next - (x[j] ?? 0)));
      x[j] = next;
    }
    if (moved < 1e-9) break;
  }
  return x;
}

export interface FitRow {
  readonly chip: string;
  readonly precision: CostPrecision;
  readonly batch: number;
  readonly ms: number;
  readonly features: KindFeatures;
}

/** Fits one chip's coefficients on its rows (relative error: each row divided by its time). */
export function fitKinds(rows: readonly FitRow[]): KindCoefficients {
  const precisions = [...new Set(rows.map((r) => r.precision))];
  const a: number[][] = [];
  const b: number[] = [];
  for (const r of rows) {
    const t = r.ms * r.batch;
    const f = r.features;
    a.push(
      [
        ...precisions.map((p) => (p === r.precision ? f.matrixMs : 0)),
        f.vectorMs,
        f.matrixLayers / 1000,
        f.otherLayers / 1000,
      ].map((v) => v / t),
    );
    b.push((t - f.weightMs) / t);
  }
  const x = nnls(a, b);
  const n = precisions.length;
  return {
    matrix: Object.fromEntries(precisions.map((p, i) => [p, x[i] ?? 0])),
    vector: x[n] ?? 0,
    matrixLayerUs: x[n + 1] ?? 0,
    otherLayerUs: x[n + 2] ?? 0,
  };
}
