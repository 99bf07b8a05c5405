// YOLO decoders into Candidates (tensor pixels), one batch item at a time.
// yolov5: ultralytics/yolov5 models/yolo.py Detect.forward (xy = (2*sig - 0.5 + grid) * stride,
// wh = (2*sig)^2 * anchor) and utils/general.py non_max_suppression (keep obj > conf, then
// conf = obj * best class score > conf, single label). yolov8: ultralytics head.py (no objectness;
// score = best class score).
import { bmfError } from '../errors.js';
import { Candidates } from './candidates.js';
import { expectGrid, expectShape, type OutputView } from './outputs.js';
import type { Yolov5Decoder, Yolov8Decoder } from './spec.js';

const logit = (p: number) => (p <= 0 ? -Infinity : p >= 1 ? Infinity : Math.log(p / (1 - p)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Decoded single output [N, boxes, 5+C]. */
export function decodeYolov5Flat(spec: Yolov5Decoder, out: OutputView, item: number): Candidates {
  const no = 5 + spec.num_classes;
  expectShape('yolov5', out.name, out.shape, [undefined, undefined, no]);
  const rows = out.shape[1] as number;
  const { data, scale, zero } = out;
  const thr = spec.score_threshold;
  const c = new Candidates(0);
  const base = item * rows * no;
  for (let r = 0; r < rows; r++) {
    const o = base + r * no;
    const obj = ((data[o + 4] as number) - zero) * scale;
    if (!(obj > thr)) continue;
    let best = 0;
    let bestV = -Infinity;
    for (let k = 0; k < spec.num_classes; k++) {
      const v = data[o + 5 + k] as number;
      if (v > bestV) {
        bestV = v;
        best = k;
      }
    }
    const conf = obj * ((bestV - zero) * scale);
    if (!(conf > thr)) continue;
    const cx = ((data[o] as number) - zero) * scale;
    const cy = ((data[o + 1] as number) - zero) * scale;
    const hw = (((data[o + 2] as number) - zero) * scale) / 2;
    const hh = (((data[o + 3] as number) - zero) * scale) / 2;
    c.push(cx - hw, cy - hh, cx + hw, cy + hh, conf, best);
  }
  return c;
}

/** Raw head outputs, [N, A, H, W, 5+C] or [N, A*(5+C), H, W] logits, one per stride. */
export function decodeYolov5Heads(
  spec: Yolov5Decoder,
  heads: readonly OutputView[],
  input: readonly [number, number],
  item: number,
): Candidates {
  const no = 5 + spec.num_classes;
  const thr = spec.score_threshold;
  const objLogit = logit(thr);
  const c = new Candidates(0);
  heads.forEach((out, h) => {
    const anchors = spec.anchors[h] as number[];
    const stride = spec.strides[h] as number;
    const na = anchors.length / 2;
    let H: number;
    let W: number;
    let kStep: number; // distance between consecutive channels of one cell
    let cell: (a: number, y: number, x: number) => number;
    if (out.shape.length === 5) {
      expectShape('yolov5', out.name, out.shape, [undefined, na, undefined, undefined, no]);
      H = out.shape[2] as number;
      W = out.shape[3] as number;
      kStep = 1;
      cell = (a, y, x) => (((item * na + a) * H + y) * W + x) * no;
    } else {
      expectShape('yolov5', out.name, out.shape, [undefined, na * no, undefined, undefined]);
      H = out.shape[2] as number;
      W = out.shape[3] as number;
      kStep = H * W;
      cell = (a, y, x) => (item * na * no + a * no) * H * W + y * W + x;
    }
    expectGrid('yolov5', out.name, [H, W], stride, input);
    const { data, scale, zero } = out;
    const val = (i: number) => ((data[i] as number) - zero) * scale;
    for (let a = 0; a < na; a++) {
      const aw = anchors[2 * a] as number;
      const ah = anchors[2 * a + 1] as number;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const o = cell(a, y, x);
          const objL = val(o + 4 * kStep);
          if (!(objL > objLogit)) continue;
          let best = 0;
          let bestL = -Infinity;
          for (let k = 0; k < spec.num_classes; k++) {
            const v = val(o + (5 + k) * kStep);
            if (v > bestL) {
              bestL = v;
              best = k;
            }
          }
          const conf = sigmoid(objL) * sigmoid(bestL);
          if (!(conf > thr)) continue;
          const cx = (sigmoid(val(o)) * 2 - 0.5 + x) * stride;
          const cy = (sigmoid(val(o + kStep)) * 2 - 0.5 + y) * stride;
          const hw = (sigmoid(val(o + 2 * kStep)) * 2) ** 2 * aw * 0.5;
          const hh = (sigmoid(val(o + 3 * kStep)) * 2) ** 2 * ah * 0.5;
          c.push(cx - hw, cy - hh, cx + hw, cy + hh, conf, best);
        }
      }
    }
  });
  return c;
}

/** [N, 4+C, boxes] (as exported), or [N, boxes, 4+C] (exports that transpose it). */
export function decodeYolov8(spec: Yolov8Decoder, out: OutputView, item: number): Candidates {
  const C = spec.num_classes;
  const no = 4 + C;
  if (out.shape.length !== 3 || (out.shape[1] !== no && out.shape[2] !== no)) {
    throw bmfError('BMF_ERR_DECODER_OUTPUTS', {
      decoder: 'yolov8',
      reason: `output ${out.name} has shape [${out.shape.join(',')}], expected [*,${no},*] or [*,*,${no}]`,
    });
  }
  const channelsFirst = out.shape[1] === no;
  const boxes = (channelsFirst ? out.shape[2] : out.shape[1]) as number;
  // Element (channel k, box j) of this item.
  const base = item * no * boxes;
  const kStep = channelsFirst ? boxes : 1;
  const jStep = channelsFirst ? 1 : no;
  const { data, scale, zero } = out;
  // Best class per box, classes outer so a channels-first tensor is read in order.
  const bestV = new Float32Array(boxes).fill(-Infinity);
  const bestK = new Int32Array(boxes);
  for (let k = 0; k < C; k++) {
    const o = base + (4 + k) * kStep;
    for (let j = 0; j < boxes; j++) {
      const v = data[o + j * jStep] as number;
      if (v > (bestV[j] as number)) {
        bestV[j] = v;
        bestK[j] = k;
      }
    }
  }
  const thr = spec.score_threshold;
  const c = new Candidates(0);
  for (let j = 0; j < boxes; j++) {
    const score = ((bestV[j] as number) - zero) * scale;
    if (!(score > thr)) continue;
    const o = base + j * jStep;
    const cx = ((data[o] as number) - zero) * scale;
    const cy = ((data[o + kStep] as number) - zero) * scale;
    const hw = (((data[o + 2 * kStep] as number) - zero) * scale) / 2;
    const hh = (((data[o + 3 * kStep] as number) - zero) * scale) / 2;
    c.push(cx - hw, cy - hh, cx + hw, cy + hh, score, bestK[j] as number);
  }
  return c;
}
