// Detections scored against ground-truth boxes at one IoU threshold (field feedback): each
// detection, best score first, takes the unmatched ground-truth box of its class with the highest
// IoU >= the threshold (a true positive) or is a false positive; ground truth left unmatched are
// false negatives. The same greedy rule as COCO's matching at a single threshold (map.ts).

export interface MatchBox {
  /** x1, y1, x2, y2 (any one coordinate frame shared by both sides). */
  readonly box: readonly [number, number, number, number];
  readonly classId: number;
}

export interface MatchCounts {
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
}

export function boxIou(
  a: readonly [number, number, number, number],
  b: readonly [number, number, number, number],
): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  if (w <= 0) return 0;
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (h <= 0) return 0;
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

export function matchDetections(
  detections: readonly (MatchBox & { readonly score: number })[],
  groundTruth: readonly MatchBox[],
  iouThreshold = 0.5,
): MatchCounts {
  const order = detections
    .map((d, i) => ({ d, i }))
    .sort((a, b) => b.d.score - a.d.score || a.i - b.i);
  const taken = new Uint8Array(groundTruth.length);
  let tp = 0;
  for (const { d } of order) {
    let best = -1;
    let bestIou = iouThreshold;
    groundTruth.forEach((g, gi) => {
      if (taken[gi] || g.classId !== d.classId) return;
      const iou = boxIou(d.box, g.box);
      if (iou >= bestIou) {
        bestIou = iou;
        best = gi;
      }
    });
    if (best >= 0) {
      taken[best] = 1;
      tp++;
    }
  }
  return { tp, fp: detections.length - tp, fn: groundTruth.length - tp };
}
