// Synthetic detector outputs with the score structure trained detectors show, for the detect
// bench. Not uniform noise: a scene holds a few objects (sizes log-uniform, classes Zipf-like so a
// "person"-like class dominates); the cells/priors whose anchor fits an object fire in a cluster
// (high objectness at the centre, decaying with distance, boxes jittered around the object, the
// true class high and one confusable class moderate); every other score is background drawn from
// a heavy-tailed logit, sigmoid(mu + sigma * StudentT(3)), so most are ~1e-4 and a few stray
// ones cross the threshold, as in real outputs. Seeded, so every run decodes the same tensors.
import { seededRandom } from '../shared/stats/seeded-random.js';

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** Student-t with 3 degrees of freedom: heavy tails. */
function studentT3(r: () => number): number {
  const z = gauss(r);
  let chi = 0;
  for (let i = 0; i < 3; i++) chi += gauss(r) ** 2;
  return z / Math.sqrt(chi / 3);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

interface SceneObject {
  cx: number;
  cy: number;
  w: number;
  h: number;
  cls: number;
}

function sceneObjects(
  r: () => number,
  width: number,
  height: number,
  classes: number,
  count: number,
): SceneObject[] {
  return Array.from({ length: count }, () => {
    const w = Math.exp(Math.log(16) + r() * Math.log(400 / 16));
    const h = w * Math.exp(gauss(r) * 0.4);
    // Zipf-like class frequencies: class k with weight 1/(k+1).
    let u = r() * Math.log(classes + 1);
    let cls = 0;
    while (cls < classes - 1 && u > Math.log(cls + 2) - Math.log(cls + 1)) {
      u -= Math.log(cls + 2) - Math.log(cls + 1);
      cls++;
    }
    return { cx: r() * width, cy: r() * height, w, h, cls };
  });
}

const YOLO_ANCHORS = [
  [10, 13, 16, 30, 33, 23],
  [30, 61, 62, 45, 59, 119],
  [116, 90, 156, 198, 373, 326],
];

/**
 * YOLOv5s-shaped decoded output [1, 25200, 85] for a 640x640 input: rows in the export's order
 * (stride 8, 16, 32; anchor; y; x), xywh in pixels, objectness and class scores after the sigmoid.
 */
export function yolov5Scene(seed: number, classes = 80): Float32Array {
  const r = seededRandom(seed);
  const size = 640;
  const no = 5 + classes;
  const objects = sceneObjects(r, size, size, classes, 2 + Math.floor(r() * 10));
  const rows = 3 * (80 * 80 + 40 * 40 + 20 * 20);
  const out = new Float32Array(rows * no);
  let row = 0;
  [8, 16, 32].forEach((stride, h) => {
    const g = size / stride;
    for (let a = 0; a < 3; a++) {
      const aw = YOLO_ANCHORS[h]?.[2 * a] as number;
      const ah = YOLO_ANCHORS[h]?.[2 * a + 1] as number;
      for (let y = 0; y < g; y++) {
        for (let x = 0; x < g; x++, row++) {
          const o = row * no;
          const cx = (x + 0.5) * stride;
          const cy = (y + 0.5) * stride;
          // Which object (if any) this cell's anchor answers for: YOLOv5 assigns a target to an
          // anchor whose size ratio is within 4x, in the cell holding its centre and neighbours.
          let hit: SceneObject | undefined;
          let closeness = 0;
          for (const ob of objects) {
            const ratio = Math.max(ob.w / aw, aw / ob.w, ob.h / ah, ah / ob.h);
            if (ratio > 4) continue;
            const d = Math.hypot((ob.cx - cx) / stride, (ob.cy - cy) / stride);
            if (d > 2.2) continue;
            const c = (1 - d / 2.2) * (1 - (ratio - 1) / 3);
            if (c > closeness) {
              closeness = c;
              hit = ob;
            }
          }
          if (hit) {
            const j = 0.02 + 0.06 * (1 - closeness);
            out[o] = hit.cx + gauss(r) * j * hit.w;
            out[o + 1] = hit.cy + gauss(r) * j * hit.h;
            out[o + 2] = hit.w * Math.exp(gauss(r) * j);
            out[o + 3] = hit.h * Math.exp(gauss(r) * j);
            out[o + 4] = sigmoid(-4 + 7 * closeness + gauss(r) * 0.8);
          } else {
            out[o] = cx + gauss(r) * stride;
            out[o + 1] = cy + gauss(r) * stride;
            out[o + 2] = aw * Math.exp(gauss(r) * 0.5);
            out[o + 3] = ah * Math.exp(gauss(r) * 0.5);
            out[o + 4] = sigmoid(-10 + studentT3(r));
          }
          const confusable = hit ? (hit.cls + 1 + Math.floor(r() * 3)) % classes : -1;
          for (let k = 0; k < classes; k++) {
            let logit = -8 + studentT3(r);
            if (hit && k === hit.cls) logit = 0.5 + 1.5 * gauss(r);
            else if (k === confusable) logit = -2 + gauss(r);
            out[o + 5 + k] = sigmoid(logit);
          }
        }
      }
    }
  });
  return out;
}

/**
 * RetinaFace outputs for a 384x640 input with the PyTorch RetinaFace priors (min sizes
 * [16,32],[64,128],[256,512], steps 8/16/32: 10,080 priors): loc [1,P,4], conf [1,P,2] (after
 * the softmax), landmarks [1,P,10]; faces encoded into loc with variances 0.1/0.2.
 */
export function retinafaceScene(
  seed: number,
  priors: Float64Array,
  height = 384,
  width = 640,
): { loc: Float32Array; conf: Float32Array; landmarks: Float32Array } {
  const r = seededRandom(seed);
  const P = priors.length / 4;
  const faces = sceneObjects(r, width, height, 1, 1 + Math.floor(r() * 12)).map((f) => ({
    ...f,
    w: f.w / 2,
    h: (f.w / 2) * 1.25,
  }));
  const loc = new Float32Array(P * 4);
  const conf = new Float32Array(P * 2);
  const landmarks = new Float32Array(P * 10);
  for (let p = 0; p < P; p++) {
    const pcx = (priors[4 * p] as number) * width;
    const pcy = (priors[4 * p + 1] as number) * height;
    const pw = (priors[4 * p + 2] as number) * width;
    const ph = (priors[4 * p + 3] as number) * height;
    let hit: SceneObject | undefined;
    let closeness = 0;
    for (const f of faces) {
      const ratio = Math.max(f.w / pw, pw / f.w);
      if (ratio > 2.5) continue;
      const d = Math.hypot(f.cx - pcx, f.cy - pcy) / pw;
      if (d > 0.6) continue;
      const c = (1 - d / 0.6) * (1 - (ratio - 1) / 1.5);
      if (c > closeness) {
        closeness = c;
        hit = f;
      }
    }
    let face: number;
    if (hit) {
      const j = 0.02 + 0.08 * (1 - closeness);
      loc[4 * p] = (hit.cx + gauss(r) * j * hit.w - pcx) / (0.1 * pw);
      loc[4 * p + 1] = (hit.cy + gauss(r) * j * hit.h - pcy) / (0.1 * ph);
      loc[4 * p + 2] = Math.log((hit.w * Math.exp(gauss(r) * j)) / pw) / 0.2;
      loc[4 * p + 3] = Math.log((hit.h * Math.exp(gauss(r) * j)) / ph) / 0.2;
      face = sigmoid(-3 + 7 * closeness + gauss(r));
    } else {
      for (let k = 0; k < 4; k++) loc[4 * p + k] = gauss(r);
      face = sigmoid(-9 + 0.8 * studentT3(r));
    }
    conf[2 * p] = 1 - face;
    conf[2 * p + 1] = face;
    for (let k = 0; k < 10; k++) landmarks[10 * p + k] = gauss(r) * 0.5;
  }
  return { loc, conf, landmarks };
}
