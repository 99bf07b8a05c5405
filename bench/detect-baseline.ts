// The plain, straightforward JavaScript a user would write for the same job, decoded in the same
// run as shared/detect for the ratio: plain loops over the tensor, an array of class scores per
// candidate row, one object per candidate box, a sort, pairwise NMS over the kept list (the shape of ultralytics/yolov5's
// non_max_suppression and of Pytorch_Retinaface's detect.py with py_cpu_nms, priors rebuilt per
// image as that script does).

interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  cls: number;
  landmarks?: number[];
}

function iou(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1));
  const h = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));
  const inter = w * h;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

function greedyNms(boxes: Box[], iouThr: number, maxDet: number, perClass: boolean): Box[] {
  boxes.sort((a, b) => b.score - a.score);
  const keep: Box[] = [];
  for (const b of boxes) {
    if (keep.length >= maxDet) break;
    if (keep.every((k) => (perClass && k.cls !== b.cls) || iou(k, b) <= iouThr)) keep.push(b);
  }
  return keep;
}

export interface Letterbox {
  scale: number;
  padX: number;
  padY: number;
}

const unbox = (b: Box, lb: Letterbox): Box => ({
  ...b,
  x1: (b.x1 - lb.padX) / lb.scale,
  y1: (b.y1 - lb.padY) / lb.scale,
  x2: (b.x2 - lb.padX) / lb.scale,
  y2: (b.y2 - lb.padY) / lb.scale,
  ...(b.landmarks
    ? { landmarks: b.landmarks.map((v, i) => (v - (i % 2 ? lb.padY : lb.padX)) / lb.scale) }
    : {}),
});

export function baselineYolov5(
  data: Float32Array,
  classes: number,
  scoreThr: number,
  iouThr: number,
  maxDet: number,
  lb: Letterbox,
): Box[] {
  const no = 5 + classes;
  const rows = data.length / no;
  const boxes: Box[] = [];
  for (let i = 0; i < rows; i++) {
    const o = i * no;
    const obj = data[o + 4] as number;
    if (obj <= scoreThr) continue;
    const scores: number[] = [];
    for (let k = 0; k < classes; k++) scores.push((data[o + 5 + k] as number) * obj);
    const best = Math.max(...scores);
    if (best <= scoreThr) continue;
    const cx = data[o] as number;
    const cy = data[o + 1] as number;
    const w = data[o + 2] as number;
    const h = data[o + 3] as number;
    boxes.push({
      x1: cx - w / 2,
      y1: cy - h / 2,
      x2: cx + w / 2,
      y2: cy + h / 2,
      score: best,
      cls: scores.indexOf(best),
    });
  }
  return greedyNms(boxes, iouThr, maxDet, true).map((b) => unbox(b, lb));
}

function priorBox(minSizes: number[][], steps: number[], h: number, w: number): number[][] {
  const anchors: number[][] = [];
  steps.forEach((step, k) => {
    for (let i = 0; i < Math.ceil(h / step); i++) {
      for (let j = 0; j < Math.ceil(w / step); j++) {
        for (const s of minSizes[k] as number[]) {
          anchors.push([((j + 0.5) * step) / w, ((i + 0.5) * step) / h, s / w, s / h]);
        }
      }
    }
  });
  return anchors;
}

export function baselineRetinaface(
  loc: Float32Array,
  conf: Float32Array,
  landms: Float32Array,
  height: number,
  width: number,
  scoreThr: number,
  iouThr: number,
  maxDet: number,
  lb: Letterbox,
): Box[] {
  const priors = priorBox(
    [
      [16, 32],
      [64, 128],
      [256, 512],
    ],
    [8, 16, 32],
    height,
    width,
  );
  const boxes: Box[] = priors.map((p, i) => {
    const [pcx, pcy, pw, ph] = p as [number, number, number, number];
    const cx = pcx + (loc[i * 4] as number) * 0.1 * pw;
    const cy = pcy + (loc[i * 4 + 1] as number) * 0.1 * ph;
    const bw = pw * Math.exp((loc[i * 4 + 2] as number) * 0.2);
    const bh = ph * Math.exp((loc[i * 4 + 3] as number) * 0.2);
    const lm: number[] = [];
    for (let k = 0; k < 10; k++) {
      const v = landms[i * 10 + k] as number;
      lm.push(k % 2 ? (pcy + v * 0.1 * ph) * height : (pcx + v * 0.1 * pw) * width);
    }
    return {
      x1: (cx - bw / 2) * width,
      y1: (cy - bh / 2) * height,
      x2: (cx + bw / 2) * width,
      y2: (cy + bh / 2) * height,
      score: conf[i * 2 + 1] as number,
      cls: 0,
      landmarks: lm,
    };
  });
  const kept = boxes.filter((b) => b.score > scoreThr);
  return greedyNms(kept, iouThr, maxDet, false).map((b) => unbox(b, lb));
}
