// A per-kind roofline for the cost-fit benchmark (bench/cost-fit.ts), fitted on a fixed half of
// the published networks and checked on the other half. docs/cost-model.md gives its result.
//
// Per launch of `lanes` images on one chip and precision, in ms:
// - conv/matmul: 2 * MACs / the precision's peak, with output channels padded to the chip's NPU
//   count and input channels (per group) padded to its IC_PARALLEL (the TPU maps output channels
//   to NPUs and reduces IC_PARALLEL input channels per cycle, so thin layers leave lanes idle),
//   times ONE fitted 1/efficiency per chip for every precision (the vendor's peaks per precision
//   carry the FP32 / FP16 / INT8 ratio, not a free parameter each);
// - depthwise conv, pools, elementwise, data movement (Concat, Resize, Slice, Transpose...) and
//   fused vector passes (SiLU): bytes over the vector lanes (NPU_NUM x EU_BYTES per cycle), a
//   pool's by its kernel-area operations when they exceed its bytes;
// - spill: a layer whose input and output bytes exceed half the chip's local memory cannot stay
//   in it (tpu-mlir's layer groups keep tensors in LMEM and slice the rest through DDR), so its
//   activation bytes cross the DDR bus;
// - weights: bytes / DDR bandwidth (not fitted);
// - a fixed launch cost per layer.
// The coefficients (1 / efficiency, vector-lane factor, spill factor, launch cost) are fitted per
// chip by non-negative least squares in relative error.
import type { CostLayer, CostPrecision } from '../../controller/compile/cost/index.js';
import { laneGeometry, padTo } from '../../controller/compile/cost/lanes.js';

export {
  LANES,
  laneGeometry,
  padTo,
  type LaneGeometry,
} from '../../controller/compile/cost/lanes.js';

/**
 * Share of the local memory a layer's input and output may take and still stay in it (chosen by
 * leave-one-network-out within the fit half, docs/cost-model.md).
 */
export const SPILL_SHARE = 0.5;

/** Features of one network run: ms at full rate per kind, and layer counts. */
export interface KindFeatures {
  /** conv/matmul at 100 % of peak, lane padding included. */
  matrixMs: number;
  /** Vector-lane passes at full lane rate. */
  vectorMs: number;
  /** Activation bytes of the layers that do not fit in local memory, at the DDR rate. */
  spillMs: number;
  weightMs: number;
  layers: number;
}

export function kindFeatures(
  layers: readonly CostLayer[],
  chip: string,
  precision: CostPrecision,
  batch: number,
): KindFeatures {
  const {
    chip: c,
    peak,
    bytes,
    lanes,
    vectorBytesPerMs,
    ic,
  } = laneGeometry(chip, precision, batch);
  const f: KindFeatures = { matrixMs: 0, vectorMs: 0, spillMs: 0, weightMs: 0, layers: 0 };
  for (const l of layers) {
    f.layers++;
    f.weightMs += (l.weightElems * bytes) / (c.ddrGBs * 1e6 * 0.85);
    f.vectorMs += ((l.fusedVectorElems ?? 0) * bytes * lanes) / vectorBytesPerMs;
    const activationBytes = (l.activationInElems + l.activationOutElems) * bytes * lanes;
    if (activationBytes > SPILL_SHARE * c.lmemBytes)
      f.spillMs += activationBytes / (c.ddrGBs * 1e6);
    const ch = l.channels;
    if (ch === undefined) {
      // A pool reads its kernel area per output: its operations when they exceed its bytes.
      const moved = l.activationInElems + l.activationOutElems;
      const elems = l.kind === 'pool' ? Math.max(moved, l.macs) : moved;
      f.vectorMs += (elems * bytes * batch) / vectorBytesPerMs;
      continue;
    }
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
  /** 1 / efficiency of conv/matmul against each precision's peak. */
  readonly matrix: number;
  readonly vector: number;
  readonly spill: number;
  readonly layerUs: number;
}

export function predictKinds(f: KindFeatures, k: KindCoefficients) {
  return (
    f.matrixMs * k.matrix +
    f.vectorMs * k.vector +
    f.spillMs * k.spill +
    f.weightMs +
    (f.layers * k.layerUs) / 1000
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
  const a: number[][] = [];
  const b: number[] = [];
  for (const r of rows) {
    const t = r.ms * r.batch;
    const f = r.features;
    a.push([f.matrixMs, f.vectorMs, f.spillMs, f.layers / 1000].map((v) => v / t));
    b.push((t - f.weightMs) / t);
  }
  const [matrix = 0, vector = 0, spill = 0, layerUs = 0] = nnls(a, b);
  return { matrix, vector, spill, layerUs };
}
