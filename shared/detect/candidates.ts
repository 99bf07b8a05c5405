// Candidate boxes (struct of arrays, in tensor pixels) and the greedy NMS every detector shares:
// highest score first, a box is dropped when its IoU with a kept box of the same class (or any
// class when class-agnostic) exceeds the threshold, as torchvision.ops.nms/batched_nms do.
import { toSourceX, toSourceY, type SourceMapping } from '../preprocess/geometry.js';

export interface Detection {
  /** x1, y1, x2, y2 in source-image pixels. */
  readonly box: readonly [number, number, number, number];
  readonly score: number;
  readonly classId: number;
  /** Five (x, y) points in source-image pixels, flattened (RetinaFace). */
  readonly landmarks?: readonly number[];
}

export class Candidates {
  count = 0;
  box: Float64Array;
  score: Float64Array;
  cls: Int32Array;
  landmarks: Float64Array | undefined;

  constructor(
    readonly landmarkCount: number,
    capacity = 256,
  ) {
    this.box = new Float64Array(capacity * 4);
    this.score = new Float64Array(capacity);
    this.cls = new Int32Array(capacity);
    this.landmarks = landmarkCount > 0 ? new Float64Array(capacity * landmarkCount * 2) : undefined;
  }

  private grow(): void {
    const cap = this.score.length * 2;
    const box = new Float64Array(cap * 4);
    box.set(this.box);
    const score = new Float64Array(cap);
    score.set(this.score);
    const cls = new Int32Array(cap);
    cls.set(this.cls);
    if (this.landmarks) {
      const lm = new Float64Array(cap * this.landmarkCount * 2);
      lm.set(this.landmarks);
      this.landmarks = lm;
    }
    this.box = box;
    this.score = score;
    this.cls = cls;
  }

  /** Adds a box; returns its index (landmarks, if any, are written by the caller at index*2L). */
  push(x1: number, y1: number, x2: number, y2: number, score: number, cls: number): number {
    if (this.count === this.score.length) this.grow();
    const i = this.count++;
    const b = i * 4;
    this.box[b] = x1;
    this.box[b + 1] = y1;
    this.box[b + 2] = x2;
    this.box[b + 3] = y2;
    this.score[i] = score;
    this.cls[i] = cls;
    return i;
  }
}

export interface NmsOptions {
  readonly iouThreshold: number;
  readonly maxDetections: number;
  readonly classAgnostic: boolean;
}

/** Indices of the kept candidates, highest score first (ties: lower index first). */
export function nms(c: Candidates, o: NmsOptions): number[] {
  const n = c.count;
  const order = Array.from({ length: n }, (_, i) => i);
  const score = c.score;
  order.sort((a, b) => (score[b] as number) - (score[a] as number) || a - b);
  const box = c.box;
  const area = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const b = i * 4;
    area[i] =
      Math.max(0, (box[b + 2] as number) - (box[b] as number)) *
      Math.max(0, (box[b + 3] as number) - (box[b + 1] as number));
  }
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  for (let a = 0; a < n && keep.length < o.maxDetections; a++) {
    const i = order[a] as number;
    if (suppressed[i]) continue;
    keep.push(i);
    const bi = i * 4;
    const ix1 = box[bi] as number;
    const iy1 = box[bi + 1] as number;
    const ix2 = box[bi + 2] as number;
    const iy2 = box[bi + 3] as number;
    const ia = area[i] as number;
    const ci = c.cls[i];
    for (let k = a + 1; k < n; k++) {
      const j = order[k] as number;
      if (suppressed[j] || (!o.classAgnostic && c.cls[j] !== ci)) continue;
      const bj = j * 4;
      const w = Math.min(ix2, box[bj + 2] as number) - Math.max(ix1, box[bj] as number);
      if (w <= 0) continue;
      const h = Math.min(iy2, box[bj + 3] as number) - Math.max(iy1, box[bj + 1] as number);
      if (h <= 0) continue;
      const inter = w * h;
      const union = ia + (area[j] as number) - inter;
      if (union > 0 && inter / union > o.iouThreshold) suppressed[j] = 1;
    }
  }
  return keep;
}

const clamp = (v: number, hi: number) => (v < 0 ? 0 : v > hi ? hi : v);

/** Kept candidates mapped from tensor pixels to source pixels (boxes clipped to the image). */
export function toDetections(
  c: Candidates,
  keep: readonly number[],
  m: SourceMapping,
): Detection[] {
  const L = c.landmarkCount * 2;
  return keep.map((i) => {
    const b = i * 4;
    const box: [number, number, number, number] = [
      clamp(toSourceX(m, c.box[b] as number), m.srcWidth),
      clamp(toSourceY(m, c.box[b + 1] as number), m.srcHeight),
      clamp(toSourceX(m, c.box[b + 2] as number), m.srcWidth),
      clamp(toSourceY(m, c.box[b + 3] as number), m.srcHeight),
    ];
    const d = { box, score: c.score[i] as number, classId: c.cls[i] as number };
    if (!c.landmarks) return d;
    const lm = new Array<number>(L);
    for (let k = 0; k < L; k += 2) {
      lm[k] = toSourceX(m, c.landmarks[i * L + k] as number);
      lm[k + 1] = toSourceY(m, c.landmarks[i * L + k + 1] as number);
    }
    return { ...d, landmarks: lm };
  });
}
