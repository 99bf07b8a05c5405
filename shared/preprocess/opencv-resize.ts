// cv2.resize on 8-bit interleaved images, reproduced operation for operation from OpenCV's
// modules/imgproc/src/resize.cpp (checked against Debian's OpenCV 4.6.0, the version the vendor
// demos and tpu-mlir's own preprocessing run on):
// - INTER_LINEAR: source x = (dx + 0.5) * (1 / (dw / sw)) - 0.5 computed in double and rounded to
//   float, two taps per axis, coefficients rounded to 11 fractional bits (INTER_RESIZE_COEF_BITS,
//   cvRound = half to even), columns clamped at the border, rows clipped; the horizontal pass
//   keeps S0*a0 + S1*a1 as int, the vertical pass is VResizeLinear<uchar>'s
//   ((b0*(D0>>4))>>16) + ((b1*(D1>>4))>>16) + 2 >> 2.
// - INTER_NEAREST: sx = min(floor(dx * (1 / (dw / sw))), sw - 1) (not INTER_NEAREST_EXACT).
// - INTER_AREA: shrinking by an integer factor on both axes averages the block (resizeAreaFast:
//   (sum + 2) >> 2 for 2 x 2, otherwise sum * float(1/area) rounded half to even); other shrinks weight the covered area in float32
//   (computeResizeAreaTab + ResizeArea_Invoker); any enlarging axis makes OpenCV fall back to the
//   linear kernel with area-style coefficients (sx = floor(dx * scale)).
// OpenCV's shortcuts that give the same bytes (a plain copy for equal sizes, INTER_AREA for an
// exact 2x INTER_LINEAR shrink) need no separate code here: the general formulas coincide.
import { nativeAddon } from '../native-addon.js';
import type { CvInterpolation } from './spec.js';

/** 8-bit pixels, row-major, interleaved, `channels` per pixel. */
export interface PixelImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

const COEF_SCALE = 2048; // 1 << INTER_RESIZE_COEF_BITS
const f32 = Math.fround;

/** cvRound on a float: nearest, ties to even (the SSE2 cvtss2si rounding mode). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

const saturateU8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

interface LinearTable {
  /** Source index (in pixels) of the first tap per destination index. */
  readonly first: Int32Array;
  /** Source index of the second tap (equal to first where the tap is clamped). */
  readonly second: Int32Array;
  /** Fixed-point weights, two per destination index. */
  readonly weights: Int32Array;
}

/**
 * Taps and fixed-point weights along one axis. `clampTaps` is the x-axis rule (a tap left of 0
 * or at/after the last pixel becomes that pixel with weight 1); rows are instead clipped
 * (y-axis, clampTaps false: fy keeps its value and both row indices are clipped to the image).
 */
function linearTable(src: number, dst: number, area: boolean, clampTaps: boolean): LinearTable {
  const inv = dst / src;
  const scale = 1 / inv;
  const first = new Int32Array(dst);
  const second = new Int32Array(dst);
  const weights = new Int32Array(dst * 2);
  for (let d = 0; d < dst; d++) {
    let s: number;
    let f: number;
    if (!area) {
      f = f32((d + 0.5) * scale - 0.5);
      s = Math.floor(f);
      f = f32(f - s);
    } else {
      s = Math.floor(d * scale);
      f = f32(d + 1 - (s + 1) * inv);
      f = f <= 0 ? 0 : f32(f - Math.floor(f));
    }
    let s1 = s + 1;
    if (clampTaps) {
      if (s < 0) {
        f = 0;
        s = 0;
        s1 = 0;
      }
      if (s >= src - 1) {
        f = 0;
        s = src - 1;
        s1 = s;
      }
    } else {
      s = s < 0 ? 0 : s >= src ? src - 1 : s;
      s1 = s1 < 0 ? 0 : s1 >= src ? src - 1 : s1;
    }
    first[d] = s;
    second[d] = s1;
    weights[2 * d] = roundHalfEven(f32(1 - f) * COEF_SCALE);
    weights[2 * d + 1] = roundHalfEven(f * COEF_SCALE);
  }
  return { first, second, weights };
}

/** One source row through the horizontal taps: into[dx * cn + c] = S[x0 + c] * a0 + S[x1 + c] * a1. */
function horizontalPass(
  data: Uint8Array,
  base: number,
  taps: Int32Array,
  w: Int32Array,
  cn: number,
  into: Int32Array,
): void {
  const dw = w.length >> 1;
  if (cn === 3) {
    for (let dx = 0, o = 0; dx < dw; dx++, o += 3) {
      const p0 = base + (taps[2 * dx] as number);
      const p1 = base + (taps[2 * dx + 1] as number);
      const a0 = w[2 * dx] as number;
      const a1 = w[2 * dx + 1] as number;
      into[o] = (data[p0] as number) * a0 + (data[p1] as number) * a1;
      into[o + 1] = (data[p0 + 1] as number) * a0 + (data[p1 + 1] as number) * a1;
      into[o + 2] = (data[p0 + 2] as number) * a0 + (data[p1 + 2] as number) * a1;
    }
    return;
  }
  for (let dx = 0, o = 0; dx < dw; dx++) {
    const p0 = base + (taps[2 * dx] as number);
    const p1 = base + (taps[2 * dx + 1] as number);
    const a0 = w[2 * dx] as number;
    const a1 = w[2 * dx + 1] as number;
    for (let c = 0; c < cn; c++, o++) {
      into[o] = (data[p0 + c] as number) * a0 + (data[p1 + c] as number) * a1;
    }
  }
}

/** The taps and weights of the two-tap kernel, in the form the native kernels take. */
export interface LinearPlan {
  /** Two per output column: element offsets (pixel x channels) of the taps in a source row. */
  readonly xTaps: Int32Array;
  readonly xWeights: Int32Array;
  /** Two per output row: the source rows (equal, or consecutive and in order). */
  readonly yRows: Int32Array;
  readonly yWeights: Int32Array;
}

function linearPlan(
  sw: number,
  sh: number,
  cn: number,
  dw: number,
  dh: number,
  area: boolean,
): LinearPlan {
  const xt = linearTable(sw, dw, area, true);
  const yt = linearTable(sh, dh, area, false);
  const xTaps = new Int32Array(dw * 2);
  for (let dx = 0; dx < dw; dx++) {
    xTaps[2 * dx] = (xt.first[dx] as number) * cn;
    xTaps[2 * dx + 1] = (xt.second[dx] as number) * cn;
  }
  const yRows = new Int32Array(dh * 2);
  for (let dy = 0; dy < dh; dy++) {
    yRows[2 * dy] = yt.first[dy] as number;
    yRows[2 * dy + 1] = yt.second[dy] as number;
  }
  return { xTaps, xWeights: xt.weights, yRows, yWeights: yt.weights };
}

/** Whether cv2.resize(INTER_AREA) falls back to the linear kernel (some axis enlarges). */
function areaEnlarges(sw: number, sh: number, dw: number, dh: number): boolean {
  return !(1 / (dw / sw) >= 1 && 1 / (dh / sh) >= 1);
}

/**
 * The two-tap plan of cv2.resize(sw x sh -> dw x dh, interpolation) on cn channels, or
 * undefined when that interpolation does not reduce to the two-tap kernel (INTER_NEAREST,
 * INTER_AREA shrinking on both axes).
 */
export function linearResizePlan(
  sw: number,
  sh: number,
  cn: number,
  dw: number,
  dh: number,
  interpolation: CvInterpolation,
): LinearPlan | undefined {
  if (interpolation === 'INTER_LINEAR') return linearPlan(sw, sh, cn, dw, dh, false);
  if (interpolation === 'INTER_AREA' && areaEnlarges(sw, sh, dw, dh)) {
    return linearPlan(sw, sh, cn, dw, dh, true);
  }
  return undefined;
}

/**
 * INTER_NEAREST as a two-tap plan: both taps on the nearest pixel with weights 2048 and 0, which
 * the fixed-point kernel maps back to that pixel exactly (D = 2048 S; ((2048 (D >> 4)) >> 16 + 2)
 * >> 2 = (4 S + 2) >> 2 = S), so the native two-tap pass serves it too.
 */
function nearestPlan(sw: number, sh: number, cn: number, dw: number, dh: number): LinearPlan {
  const xs = nearestIndices(sw, dw);
  const ys = nearestIndices(sh, dh);
  const xTaps = new Int32Array(dw * 2);
  const xWeights = new Int32Array(dw * 2);
  for (let dx = 0; dx < dw; dx++) {
    xTaps[2 * dx] = xTaps[2 * dx + 1] = (xs[dx] as number) * cn;
    xWeights[2 * dx] = COEF_SCALE;
  }
  const yRows = new Int32Array(dh * 2);
  const yWeights = new Int32Array(dh * 2);
  for (let dy = 0; dy < dh; dy++) {
    yRows[2 * dy] = yRows[2 * dy + 1] = ys[dy] as number;
    yWeights[2 * dy] = COEF_SCALE;
  }
  return { xTaps, xWeights, yRows, yWeights };
}

/**
 * INTER_AREA shrinking on both axes, in the form the native pass streams source rows through:
 * a fixed number of taps per destination column, (destination, source) pairs for rows, float32
 * weights in OpenCV's order. The integer-factor case is the same sums with weight 1 and its own
 * rounding (`finish`).
 */
export interface AreaPlan {
  /**
   * `xAlpha.length / dw` taps per destination column, in OpenCV's order: source element offsets
   * (sx x channels). Columns with fewer taps are padded with weight 0, which adds +0 to a
   * non-negative float sum and so changes nothing, and lets the native pass sum several columns
   * side by side.
   */
  readonly xTaps: Int32Array;
  readonly xAlpha: Float32Array;
  /** Pairs: destination row, source row; source rows never decrease. */
  readonly yTab: Int32Array;
  readonly yAlpha: Float32Array;
  /**
   * [0, 0]: round the float sum half to even (ResizeArea_Invoker); [1, 0]: (sum + 2) >> 2 (the
   * 2 x 2 block); [2, inv]: round float(sum x inv) half to even (other integer factors).
   */
  readonly finish: Float32Array;
}

function areaPlan(sw: number, sh: number, cn: number, dw: number, dh: number): AreaPlan {
  const factors = areaIntegerFactors(sw, sh, dw, dh);
  const integer = factors !== undefined;
  const [kx, ky] = factors ?? [0, 0];
  const block = (src: number, dst: number, k: number): AreaTap[] => {
    const taps: AreaTap[] = [];
    for (let d = 0; d < dst && d * k < src; d++) {
      for (let j = 0; j < k; j++) taps.push({ d, s: d * k + j, alpha: 1 });
    }
    return taps;
  };
  const xs = integer ? block(sw, dw, kx) : areaTable(sw, dw, 1 / (dw / sw));
  const ys = integer ? block(sh, dh, ky) : areaTable(sh, dh, 1 / (dh / sh));
  const perColumn: AreaTap[][] = Array.from({ length: dw }, () => []);
  for (const t of xs) perColumn[t.d]?.push(t);
  const k = Math.max(1, ...perColumn.map((taps) => taps.length));
  const xTaps = new Int32Array(dw * k);
  const xAlpha = new Float32Array(dw * k);
  perColumn.forEach((taps, d) => {
    taps.forEach((t, j) => {
      xTaps[d * k + j] = t.s * cn;
      xAlpha[d * k + j] = t.alpha;
    });
    // Padding: weight 0 on the column's last source pixel (any pixel in the row would do).
    const last = taps.length > 0 ? (taps[taps.length - 1] as AreaTap).s * cn : 0;
    for (let j = taps.length; j < k; j++) xTaps[d * k + j] = last;
  });
  const yTab = new Int32Array(ys.length * 2);
  ys.forEach((t, i) => {
    yTab[2 * i] = t.d;
    yTab[2 * i + 1] = t.s;
  });
  const finish = !integer
    ? Float32Array.of(0, 0)
    : kx === 2 && ky === 2
      ? Float32Array.of(1, 0)
      : Float32Array.of(2, f32(1 / (kx * ky)));
  return { xTaps, xAlpha, yTab, yAlpha: Float32Array.from(ys, (t) => t.alpha), finish };
}

/** How the native one-pass JPEG path computes cv2.resize for one image. */
export type PassPlan = ({ kind: 'twoTap' } & LinearPlan) | ({ kind: 'area' } & AreaPlan);

/** The plan of cv2.resize(sw x sh -> dw x dh, interpolation) for the native one pass. */
export function passResizePlan(
  sw: number,
  sh: number,
  cn: number,
  dw: number,
  dh: number,
  interpolation: CvInterpolation,
): PassPlan {
  if (interpolation === 'INTER_NEAREST') {
    return { kind: 'twoTap', ...nearestPlan(sw, sh, cn, dw, dh) };
  }
  const linear = linearResizePlan(sw, sh, cn, dw, dh, interpolation);
  return linear ? { kind: 'twoTap', ...linear } : { kind: 'area', ...areaPlan(sw, sh, cn, dw, dh) };
}

/** The fixed-point two-tap kernel shared by INTER_LINEAR and INTER_AREA's enlarging fallback. */
function resizeLinearFixed(
  src: PixelImage,
  dw: number,
  dh: number,
  area: boolean,
  options: ResizeOptions,
): Uint8Array {
  const cn = src.channels;
  const plan = linearPlan(src.width, src.height, cn, dw, dh, area);
  const rowLen = dw * cn;
  const out = new Uint8Array(dh * rowLen);
  const xa = plan.xTaps;
  const native = options.native === false ? undefined : nativeLinear();
  if (native) {
    const { xWeights, yRows, yWeights } = plan;
    native(src.data, src.width, src.height, cn, xa, xWeights, yRows, yWeights, out, dw, dh);
    return out;
  }
  // Horizontal results of two source rows, cached by row index (consecutive output rows mostly
  // share them when enlarging).
  let rowA = new Int32Array(rowLen);
  let rowB = new Int32Array(rowLen);
  let idxA = -1;
  let idxB = -1;
  const w = plan.xWeights;
  const data = src.data;
  const horizontal = (sy: number, into: Int32Array): void =>
    horizontalPass(data, sy * src.width * cn, xa, w, cn, into);
  for (let dy = 0; dy < dh; dy++) {
    const s0 = plan.yRows[2 * dy] as number;
    const s1 = plan.yRows[2 * dy + 1] as number;
    if (s0 !== idxA) {
      if (s0 === idxB) {
        [rowA, rowB] = [rowB, rowA];
        [idxA, idxB] = [idxB, idxA];
      } else {
        horizontal(s0, rowA);
        idxA = s0;
      }
    }
    if (s1 !== idxB) {
      if (s1 === idxA) rowB.set(rowA);
      else horizontal(s1, rowB);
      idxB = s1;
    }
    const b0 = plan.yWeights[2 * dy] as number;
    const b1 = plan.yWeights[2 * dy + 1] as number;
    const o = dy * rowLen;
    for (let i = 0; i < rowLen; i++) {
      out[o + i] =
        (((b0 * ((rowA[i] as number) >> 4)) >> 16) +
          ((b1 * ((rowB[i] as number) >> 4)) >> 16) +
          2) >>
        2;
    }
  }
  return out;
}

/** INTER_NEAREST's source index for each destination index along one axis. */
function nearestIndices(src: number, dst: number): Int32Array {
  const inv = 1 / (dst / src);
  const out = new Int32Array(dst);
  for (let d = 0; d < dst; d++) out[d] = Math.min(Math.floor(d * inv), src - 1);
  return out;
}

function resizeNearest(src: PixelImage, dw: number, dh: number): Uint8Array {
  const cn = src.channels;
  const xs = nearestIndices(src.width, dw).map((x) => x * cn);
  const ys = nearestIndices(src.height, dh);
  const out = new Uint8Array(dw * dh * cn);
  for (let y = 0, o = 0; y < dh; y++) {
    const row = (ys[y] as number) * src.width * cn;
    for (let x = 0; x < dw; x++) {
      const p = row + (xs[x] as number);
      for (let c = 0; c < cn; c++) out[o++] = src.data[p + c] as number;
    }
  }
  return out;
}

/** resizeAreaFast: integer factors kx, ky; block sum times float(1/area), rounded half to even. */
function resizeAreaInteger(src: PixelImage, dw: number, dh: number, kx: number, ky: number) {
  const cn = src.channels;
  const stride = src.width * cn;
  const inv = f32(1 / (kx * ky));
  const twoByTwo = kx === 2 && ky === 2;
  const out = new Uint8Array(dw * dh * cn);
  for (let dy = 0, o = 0; dy < dh; dy++) {
    for (let dx = 0; dx < dw; dx++) {
      for (let c = 0; c < cn; c++, o++) {
        let sum = 0;
        for (let j = 0; j < ky; j++) {
          const p = (dy * ky + j) * stride + dx * kx * cn + c;
          for (let i = 0; i < kx; i++) sum += src.data[p + i * cn] as number;
        }
        // The 2 x 2 case has its own (vectorised and scalar) code: (sum + 2) >> 2.
        out[o] = twoByTwo ? (sum + 2) >> 2 : saturateU8(roundHalfEven(f32(sum * inv)));
      }
    }
  }
  return out;
}

interface AreaTap {
  readonly d: number;
  readonly s: number;
  readonly alpha: number;
}

/** computeResizeAreaTab, one axis. */
function areaTable(src: number, dst: number, scale: number): AreaTap[] {
  const taps: AreaTap[] = [];
  for (let d = 0; d < dst; d++) {
    const fs1 = d * scale;
    const fs2 = fs1 + scale;
    const cell = Math.min(scale, src - fs1);
    let s2 = Math.floor(fs2);
    s2 = Math.min(s2, src - 1);
    const s1 = Math.min(Math.ceil(fs1), s2);
    if (s1 - fs1 > 1e-3) taps.push({ d, s: s1 - 1, alpha: f32((s1 - fs1) / cell) });
    for (let s = s1; s < s2; s++) taps.push({ d, s, alpha: f32(1 / cell) });
    if (fs2 - s2 > 1e-3) {
      taps.push({ d, s: s2, alpha: f32(Math.min(Math.min(fs2 - s2, 1), cell) / cell) });
    }
  }
  return taps;
}

/** ResizeArea_Invoker: float32 accumulation in OpenCV's order, saturate_cast<uchar> at the end. */
function resizeAreaGeneral(src: PixelImage, dw: number, dh: number): Uint8Array {
  const cn = src.channels;
  const xtab = areaTable(src.width, dw, 1 / (dw / src.width));
  const ytab = areaTable(src.height, dh, 1 / (dh / src.height));
  const rowLen = dw * cn;
  const buf = new Float32Array(rowLen);
  const sum = new Float32Array(rowLen);
  const out = new Uint8Array(dh * rowLen);
  const flush = (dy: number): void => {
    for (let i = 0; i < rowLen; i++)
      out[dy * rowLen + i] = saturateU8(roundHalfEven(sum[i] as number));
  };
  let prev = -1;
  for (const yt of ytab) {
    buf.fill(0);
    const base = yt.s * src.width * cn;
    for (const xt of xtab) {
      const di = xt.d * cn;
      const si = base + xt.s * cn;
      for (let c = 0; c < cn; c++) {
        buf[di + c] = f32((buf[di + c] as number) + f32((src.data[si + c] as number) * xt.alpha));
      }
    }
    if (yt.d !== prev) {
      if (prev >= 0) flush(prev);
      for (let i = 0; i < rowLen; i++) sum[i] = f32(yt.alpha * (buf[i] as number));
      prev = yt.d;
    } else {
      for (let i = 0; i < rowLen; i++) {
        sum[i] = f32((sum[i] as number) + f32(yt.alpha * (buf[i] as number)));
      }
    }
  }
  flush(prev);
  return out;
}

/** The block size when an INTER_AREA shrink is by whole numbers on both axes (resizeAreaFast). */
function areaIntegerFactors(
  sw: number,
  sh: number,
  dw: number,
  dh: number,
): [number, number] | undefined {
  const scaleX = 1 / (dw / sw);
  const scaleY = 1 / (dh / sh);
  const kx = Math.round(scaleX);
  const ky = Math.round(scaleY);
  return Math.abs(scaleX - kx) < Number.EPSILON && Math.abs(scaleY - ky) < Number.EPSILON
    ? [kx, ky]
    : undefined;
}

function resizeArea(src: PixelImage, dw: number, dh: number, options: ResizeOptions): Uint8Array {
  if (!areaEnlarges(src.width, src.height, dw, dh)) {
    const factors = areaIntegerFactors(src.width, src.height, dw, dh);
    if (factors) return resizeAreaInteger(src, dw, dh, factors[0], factors[1]);
    return resizeAreaGeneral(src, dw, dh);
  }
  return resizeLinearFixed(src, dw, dh, true, options);
}

export interface ResizeOptions {
  /** false: the JavaScript kernel even when the native addon is built (tests compare both). */
  readonly native?: boolean;
}

type NativeLinear = (
  src: Uint8Array,
  sw: number,
  sh: number,
  cn: number,
  xTaps: Int32Array,
  xWeights: Int32Array,
  yRows: Int32Array,
  yWeights: Int32Array,
  dst: Uint8Array,
  dw: number,
  dh: number,
) => void;

/** native/cv-resize.cc when the addon is built: the same integer loops, compiled. */
function nativeLinear(): NativeLinear | undefined {
  const f = nativeAddon()?.['cvLinearResize'];
  return typeof f === 'function' ? (f as NativeLinear) : undefined;
}

/** Whether the fixed-point linear kernel runs natively in this process. */
export function nativeResizeAvailable(): boolean {
  return nativeLinear() !== undefined;
}

/** cv2.resize(src, (width, height), interpolation) on 8-bit pixels. */
export function cvResize(
  src: PixelImage,
  width: number,
  height: number,
  interpolation: CvInterpolation,
  options: ResizeOptions = {},
): Uint8Array {
  if (interpolation === 'INTER_NEAREST') return resizeNearest(src, width, height);
  if (interpolation === 'INTER_AREA') return resizeArea(src, width, height, options);
  return resizeLinearFixed(src, width, height, false, options);
}
