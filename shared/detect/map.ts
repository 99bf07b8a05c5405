// COCO-style box mAP exactly as pycocotools computes it (cocodataset/cocoapi PythonAPI/pycocotools
// cocoeval.py, evaluateImg + accumulate + summarize; box IoU from common/maskApi.c bbIou), for the
// 'all' area range and maxDets 100:
// - per (image, category): detections by score (stable), first 100; ground truth with the crowd
//   ones last; each detection, best score first, takes the unmatched ground truth with the highest
//   IoU >= t (crowd ground truth may match many and only makes its detections ignored);
// - per category: detections of all images by score (stable, images in ascending id order), cumulative
//   TP/FP, precision made monotone, read at the 101 recall points 0, 0.01, ..., 1 (searchsorted
//   'left'; 0 past the last recall reached);
// - AP = mean over IoU thresholds 0.5:0.05:0.95 and recall points; mAP = mean over categories with
//   at least one non-crowd ground truth (-1 when there is none, as pycocotools prints).
// Boxes are COCO [x, y, width, height] so the arithmetic is pycocotools' own, operation for
// operation; toCocoBox converts a decoder's [x1, y1, x2, y2].
import { bmfError } from '../errors.js';

export type ImageId = number | string;
export type CocoBox = readonly [number, number, number, number];

export interface GroundTruthBox {
  readonly imageId: ImageId;
  readonly categoryId: number;
  readonly bbox: CocoBox;
  readonly iscrowd?: boolean;
  /** Area for the area-range test (COCO: the segment's area); default width * height. */
  readonly area?: number;
}

export interface DetectedBox {
  readonly imageId: ImageId;
  readonly categoryId: number;
  readonly bbox: CocoBox;
  readonly score: number;
}

export interface MapOptions {
  /** Categories to evaluate (default: those of the ground truth). */
  readonly categoryIds?: readonly number[];
  /** Detections kept per image and category (pycocotools maxDets[-1]). */
  readonly maxDetections?: number;
}

export interface ClassAp {
  readonly categoryId: number;
  /** AP@[0.5:0.95], AP@0.5, AP@0.75; -1 when the category has no non-crowd ground truth. */
  readonly ap: number;
  readonly ap50: number;
  readonly ap75: number;
  readonly groundTruths: number;
  readonly detections: number;
}

export interface MapResult {
  readonly map: number;
  readonly map50: number;
  readonly map75: number;
  readonly perClass: readonly ClassAp[];
}

/** np.linspace(.5, .95, 10) and np.linspace(0, 1, 101), element for element. */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  out[num - 1] = stop;
  return out;
}
export const IOU_THRESHOLDS: readonly number[] = linspace(0.5, 0.95, 10);
export const RECALL_THRESHOLDS: readonly number[] = linspace(0, 1, 101);
const EPS = 2.220446049250313e-16; // np.spacing(1)
/** The 'all' area range, [0 ** 2, 1e5 ** 2]. */
const AREA_ALL = [0, 1e10] as const;

export function toCocoBox(x1: number, y1: number, x2: number, y2: number): CocoBox {
  return [x1, y1, x2 - x1, y2 - y1];
}

function checkBox(field: string, b: CocoBox): void {
  if (b.length !== 4 || !b.every(Number.isFinite) || b[2] < 0 || b[3] < 0) {
    throw bmfError('BMF_ERR_DETECTION_DATA', {
      field,
      reason: 'expected [x, y, width, height], finite, width and height >= 0',
    });
  }
}

/** maskApi.c bbIou for one pair (dt against gt). */
function boxIou(d: CocoBox, g: CocoBox, crowd: boolean): number {
  const w = Math.min(d[2] + d[0], g[2] + g[0]) - Math.max(d[0], g[0]);
  if (w <= 0) return 0;
  const h = Math.min(d[3] + d[1], g[3] + g[1]) - Math.max(d[1], g[1]);
  if (h <= 0) return 0;
  const i = w * h;
  const da = d[2] * d[3];
  return i / (crowd ? da : da + g[2] * g[3] - i);
}

interface ImageEval {
  /** Scores of the kept detections, best first. */
  readonly scores: number[];
  /** [t][d]: matched (1) or not (0); ignored (1) or not (0). */
  readonly matched: Uint8Array[];
  readonly ignored: Uint8Array[];
  readonly nonCrowd: number;
}

function evaluateImage(
  gts: readonly GroundTruthBox[],
  dets: readonly DetectedBox[],
  maxDet: number,
): ImageEval {
  // Stable sorts, as np.argsort(kind='mergesort'): ignored (crowd, out of range) ground truth
  // last; detections best score first.
  const outOfRange = (a: number) => a < AREA_ALL[0] || a > AREA_ALL[1];
  const ignoreOf = (x: GroundTruthBox) =>
    x.iscrowd || outOfRange(x.area ?? x.bbox[2] * x.bbox[3]) ? 1 : 0;
  const g = gts.map((x, i) => ({ x, i, ig: ignoreOf(x) })).sort((a, b) => a.ig - b.ig || a.i - b.i);
  const gIgnore = g.map((e) => e.ig);
  const d = dets
    .map((x, i) => ({ x, i }))
    .sort((a, b) => b.x.score - a.x.score || a.i - b.i)
    .slice(0, maxDet)
    .map((e) => e.x);
  const dOut = d.map((x) => outOfRange(x.bbox[2] * x.bbox[3]));
  const ious = d.map((dt) => g.map((e) => boxIou(dt.bbox, e.x.bbox, e.x.iscrowd ?? false)));
  const matched: Uint8Array[] = [];
  const ignored: Uint8Array[] = [];
  for (const t of IOU_THRESHOLDS) {
    const gtTaken = new Uint8Array(g.length);
    const dm = new Uint8Array(d.length);
    const di = new Uint8Array(d.length);
    for (let di0 = 0; di0 < d.length; di0++) {
      let iou = Math.min(t, 1 - 1e-10);
      let m = -1;
      const row = ious[di0] as number[];
      for (let gi = 0; gi < g.length; gi++) {
        if (gtTaken[gi] && !g[gi]?.x.iscrowd) continue;
        // Ground truth is sorted: once a real match exists, ignored ones cannot replace it.
        if (m > -1 && gIgnore[m] === 0 && gIgnore[gi] === 1) break;
        if ((row[gi] as number) < iou) continue;
        iou = row[gi] as number;
        m = gi;
      }
      if (m === -1) continue;
      di[di0] = gIgnore[m] as number;
      dm[di0] = 1;
      gtTaken[m] = 1;
    }
    // Unmatched detections outside the area range are ignored.
    for (let k = 0; k < d.length; k++) if (!dm[k] && dOut[k]) di[k] = 1;
    matched.push(dm);
    ignored.push(di);
  }
  return {
    scores: d.map((x) => x.score),
    matched,
    ignored,
    nonCrowd: gIgnore.filter((x) => x === 0).length,
  };
}

function compareIds(a: ImageId, b: ImageId): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** Precision at the 101 recall points for one category and IoU threshold index. */
function precisionCurve(
  evals: readonly ImageEval[],
  order: readonly [number, number][],
  t: number,
  npig: number,
): number[] {
  const nd = order.length;
  const pr = new Array<number>(nd);
  const rc = new Array<number>(nd);
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < nd; k++) {
    const [e, d] = order[k] as [number, number];
    const ev = evals[e] as ImageEval;
    const ig = (ev.ignored[t] as Uint8Array)[d];
    if (!ig) {
      if ((ev.matched[t] as Uint8Array)[d]) tp++;
      else fp++;
    }
    rc[k] = tp / npig;
    pr[k] = tp / (fp + tp + EPS);
  }
  for (let i = nd - 1; i > 0; i--) {
    if ((pr[i] as number) > (pr[i - 1] as number)) pr[i - 1] = pr[i] as number;
  }
  const q = new Array<number>(RECALL_THRESHOLDS.length).fill(0);
  let pi = 0;
  for (let ri = 0; ri < RECALL_THRESHOLDS.length; ri++) {
    const r = RECALL_THRESHOLDS[ri] as number;
    while (pi < nd && (rc[pi] as number) < r) pi++;
    if (pi >= nd) break;
    q[ri] = pr[pi] as number;
  }
  return q;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export function computeMap(
  groundTruth: readonly GroundTruthBox[],
  detections: readonly DetectedBox[],
  options: MapOptions = {},
): MapResult {
  groundTruth.forEach((g, i) => checkBox(`groundTruth[${i}].bbox`, g.bbox));
  detections.forEach((d, i) => {
    checkBox(`detections[${i}].bbox`, d.bbox);
    if (!Number.isFinite(d.score)) {
      throw bmfError('BMF_ERR_DETECTION_DATA', {
        field: `detections[${i}].score`,
        reason: 'not finite',
      });
    }
  });
  const maxDet = options.maxDetections ?? 100;
  const categories =
    options.categoryIds ?? [...new Set(groundTruth.map((g) => g.categoryId))].sort((a, b) => a - b);
  const images = [...new Set([...groundTruth, ...detections].map((x) => x.imageId))].sort(
    compareIds,
  );
  const key = (img: ImageId, cat: number) => `${typeof img}:${String(img)}\u0000${cat}`;
  const gtBy = new Map<string, GroundTruthBox[]>();
  const dtBy = new Map<string, DetectedBox[]>();
  for (const g of groundTruth) {
    const k = key(g.imageId, g.categoryId);
    const list = gtBy.get(k);
    if (list) list.push(g);
    else gtBy.set(k, [g]);
  }
  for (const d of detections) {
    const k = key(d.imageId, d.categoryId);
    const list = dtBy.get(k);
    if (list) list.push(d);
    else dtBy.set(k, [d]);
  }
  const perClass: ClassAp[] = [];
  for (const cat of categories) {
    const evals: ImageEval[] = [];
    let detCount = 0;
    for (const img of images) {
      const gts = gtBy.get(key(img, cat)) ?? [];
      const dts = dtBy.get(key(img, cat)) ?? [];
      if (gts.length === 0 && dts.length === 0) continue;
      evals.push(evaluateImage(gts, dts, maxDet));
      detCount += dts.length;
    }
    const npig = evals.reduce((a, e) => a + e.nonCrowd, 0);
    if (npig === 0) {
      perClass.push({
        categoryId: cat,
        ap: -1,
        ap50: -1,
        ap75: -1,
        groundTruths: 0,
        detections: detCount,
      });
      continue;
    }
    // All detections of this category, best score first; ties keep image order, then rank.
    const order: [number, number][] = [];
    evals.forEach((e, ei) => e.scores.forEach((_, d) => order.push([ei, d])));
    const scoreOf = ([e, d]: [number, number]) => (evals[e] as ImageEval).scores[d] as number;
    order.sort((a, b) => scoreOf(b) - scoreOf(a) || a[0] - b[0] || a[1] - b[1]);
    const curves = IOU_THRESHOLDS.map((_, t) => precisionCurve(evals, order, t, npig));
    perClass.push({
      categoryId: cat,
      ap: mean(curves.flat()),
      ap50: mean(curves[0] as number[]),
      ap75: mean(curves[5] as number[]),
      groundTruths: npig,
      detections: detCount,
    });
  }
  const valid = perClass.filter((c) => c.ap > -1);
  const avg = (f: (c: ClassAp) => number) => (valid.length === 0 ? -1 : mean(valid.map(f)));
  return { map: avg((c) => c.ap), map50: avg((c) => c.ap50), map75: avg((c) => c.ap75), perClass };
}
