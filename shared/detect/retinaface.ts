// RetinaFace decoders into Candidates (tensor pixels, class 0 = face, five landmarks).
// priors: biubug6/Pytorch_Retinaface layers/functions/prior_box.py (priors per step, cell-major,
// min sizes inner; centres (j+0.5)*step) and utils/box_utils.py decode/decode_landm with the
// variances. anchors: deepinsight/insightface RetinaFace/retinaface.py with rcnn/processing
// generate_anchor.py (square anchors base_size*scale centred at (base_size-1)/2, shifted by the
// stride) and bbox_pred/landmark_pred (the "+1" pixel convention of that code base).
import { Candidates } from './candidates.js';
import { expectGrid, expectShape, type OutputView } from './outputs.js';
import type { RetinafaceAnchorsDecoder, RetinafacePriorsDecoder } from './spec.js';

const LANDMARKS = 5;

/** Priors (cx, cy, w, h), normalised to the input size, in the PyTorch RetinaFace order. */
export function retinafacePriors(
  spec: Pick<RetinafacePriorsDecoder, 'min_sizes' | 'steps'>,
  inputHeight: number,
  inputWidth: number,
): Float64Array {
  let total = 0;
  spec.steps.forEach((step, k) => {
    total +=
      Math.ceil(inputHeight / step) *
      Math.ceil(inputWidth / step) *
      (spec.min_sizes[k] ?? []).length;
  });
  const p = new Float64Array(total * 4);
  let n = 0;
  spec.steps.forEach((step, k) => {
    const fh = Math.ceil(inputHeight / step);
    const fw = Math.ceil(inputWidth / step);
    const sizes = spec.min_sizes[k] ?? [];
    for (let i = 0; i < fh; i++) {
      for (let j = 0; j < fw; j++) {
        for (const s of sizes) {
          p[n++] = ((j + 0.5) * step) / inputWidth;
          p[n++] = ((i + 0.5) * step) / inputHeight;
          p[n++] = s / inputWidth;
          p[n++] = s / inputHeight;
        }
      }
    }
  });
  return p;
}

// Priors depend only on the (frozen) spec and the input size.
const priorCache = new WeakMap<object, Map<string, Float64Array>>();
function priorsFor(spec: RetinafacePriorsDecoder, h: number, w: number): Float64Array {
  let bySize = priorCache.get(spec);
  if (!bySize) priorCache.set(spec, (bySize = new Map()));
  const key = `${h}x${w}`;
  let p = bySize.get(key);
  if (!p) bySize.set(key, (p = retinafacePriors(spec, h, w)));
  return p;
}

export function decodeRetinafacePriors(
  spec: RetinafacePriorsDecoder,
  loc: OutputView,
  conf: OutputView,
  landmarks: OutputView | undefined,
  inputHeight: number,
  inputWidth: number,
  item: number,
): Candidates {
  const priors = priorsFor(spec, inputHeight, inputWidth);
  const P = priors.length / 4;
  expectShape('retinaface', loc.name, loc.shape, [undefined, P, 4]);
  expectShape('retinaface', conf.name, conf.shape, [undefined, P, 2]);
  if (landmarks) expectShape('retinaface', landmarks.name, landmarks.shape, [undefined, P, 10]);
  const [v0, v1] = spec.variances;
  const thr = spec.score_threshold;
  const logits = spec.conf_activation === 'logits';
  const c = new Candidates(landmarks ? LANDMARKS : 0);
  const cd = conf.data;
  for (let p = 0; p < P; p++) {
    const ci = (item * P + p) * 2;
    const face = ((cd[ci + 1] as number) - conf.zero) * conf.scale;
    // softmax([bg, face])[1] = sigmoid(face - bg)
    const score = logits
      ? 1 / (1 + Math.exp(((cd[ci] as number) - conf.zero) * conf.scale - face))
      : face;
    if (!(score > thr)) continue;
    const pcx = priors[p * 4] as number;
    const pcy = priors[p * 4 + 1] as number;
    const pw = priors[p * 4 + 2] as number;
    const ph = priors[p * 4 + 3] as number;
    const li = (item * P + p) * 4;
    const l = (k: number) => ((loc.data[li + k] as number) - loc.zero) * loc.scale;
    const cx = pcx + l(0) * v0 * pw;
    const cy = pcy + l(1) * v0 * ph;
    const w = pw * Math.exp(l(2) * v1);
    const h = ph * Math.exp(l(3) * v1);
    const i = c.push(
      (cx - w / 2) * inputWidth,
      (cy - h / 2) * inputHeight,
      (cx + w / 2) * inputWidth,
      (cy + h / 2) * inputHeight,
      score,
      0,
    );
    if (landmarks && c.landmarks) {
      const mi = (item * P + p) * 10;
      for (let k = 0; k < LANDMARKS; k++) {
        const dx = ((landmarks.data[mi + 2 * k] as number) - landmarks.zero) * landmarks.scale;
        const dy = ((landmarks.data[mi + 2 * k + 1] as number) - landmarks.zero) * landmarks.scale;
        c.landmarks[i * 10 + 2 * k] = (pcx + dx * v0 * pw) * inputWidth;
        c.landmarks[i * 10 + 2 * k + 1] = (pcy + dy * v0 * ph) * inputHeight;
      }
    }
  }
  return c;
}

export interface RetinafaceHeadViews {
  readonly stride: number;
  readonly scales: readonly number[];
  readonly cls: OutputView;
  readonly bbox: OutputView;
  readonly landmark: OutputView | undefined;
}

export function decodeRetinafaceAnchors(
  spec: RetinafaceAnchorsDecoder,
  heads: readonly RetinafaceHeadViews[],
  input: readonly [number, number],
  item: number,
): Candidates {
  const thr = spec.score_threshold;
  const withLandmarks = heads.every((h) => h.landmark !== undefined);
  const c = new Candidates(withLandmarks ? LANDMARKS : 0);
  const ctr0 = (spec.base_size - 1) / 2;
  for (const head of heads) {
    const A = head.scales.length;
    const { cls, bbox, landmark } = head;
    expectShape('retinaface', cls.name, cls.shape, [undefined, 2 * A, undefined, undefined]);
    const H = cls.shape[2] as number;
    const W = cls.shape[3] as number;
    const N = cls.shape[0];
    expectGrid('retinaface', cls.name, [H, W], head.stride, input);
    expectShape('retinaface', bbox.name, bbox.shape, [N, 4 * A, H, W]);
    if (landmark) expectShape('retinaface', landmark.name, landmark.shape, [N, 10 * A, H, W]);
    const HW = H * W;
    const bv = (ch: number, pos: number) =>
      ((bbox.data[(item * 4 * A + ch) * HW + pos] as number) - bbox.zero) * bbox.scale;
    for (let a = 0; a < A; a++) {
      const size = spec.base_size * (head.scales[a] as number);
      const scoreBase = (item * 2 * A + A + a) * HW;
      for (let pos = 0; pos < HW; pos++) {
        const score = ((cls.data[scoreBase + pos] as number) - cls.zero) * cls.scale;
        if (!(score > thr)) continue;
        const y = Math.floor(pos / W);
        const x = pos - y * W;
        // Anchor width/height = size; its centre (x1 + 0.5*(w-1)) is ctr0 shifted by the cell.
        const acx = ctr0 + x * head.stride;
        const acy = ctr0 + y * head.stride;
        const cx = bv(a * 4, pos) * size + acx;
        const cy = bv(a * 4 + 1, pos) * size + acy;
        const w = Math.exp(bv(a * 4 + 2, pos)) * size;
        const h = Math.exp(bv(a * 4 + 3, pos)) * size;
        const i = c.push(
          cx - 0.5 * (w - 1),
          cy - 0.5 * (h - 1),
          cx + 0.5 * (w - 1),
          cy + 0.5 * (h - 1),
          score,
          0,
        );
        if (withLandmarks && landmark && c.landmarks) {
          for (let k = 0; k < LANDMARKS; k++) {
            const li = (item * 10 * A + a * 10 + 2 * k) * HW + pos;
            const dx = ((landmark.data[li] as number) - landmark.zero) * landmark.scale;
            const dy = ((landmark.data[li + HW] as number) - landmark.zero) * landmark.scale;
            c.landmarks[i * 10 + 2 * k] = dx * size + acx;
            c.landmarks[i * 10 + 2 * k + 1] = dy * size + acy;
          }
        }
      }
    }
  }
  return c;
}
