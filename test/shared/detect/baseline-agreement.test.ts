// On realistic synthetic scenes (bench/detect-scenes.ts), shared/detect and the plain
// straightforward port the detect bench measures against (bench/detect-baseline.ts) must give the
// same detections: two independent implementations of the same reference code.
import t from 'tap';
import { baselineRetinaface, baselineYolov5 } from '../../../bench/detect-baseline.js';
import { retinafaceScene, yolov5Scene } from '../../../bench/detect-scenes.js';
import {
  decodeDetections,
  parseDecoderSpec,
  retinafacePriors,
  type DetectorSpec,
} from '../../../shared/detect/index.js';
import { parsePreprocessSpec, sourceMapping } from '../../../shared/preprocess/index.js';
import { makeTensor } from '../../../shared/tensor.js';

const TOL = 1e-3; // float32 inputs, float64 arithmetic in both; pixels
const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);

function letterbox(h: number, w: number) {
  const m = sourceMapping(
    1280,
    720,
    parsePreprocessSpec({ resize_dims: [h, w], keep_aspect_ratio: true }),
  );
  return { m, lb: { scale: 1 / m.scaleX, padX: m.offsetX, padY: m.offsetY } };
}

t.test('yolov5 decoded output', async (t) => {
  const spec = parseDecoderSpec({
    kind: 'yolov5',
    outputs: ['o'],
    num_classes: 80,
  }) as DetectorSpec;
  const { m, lb } = letterbox(640, 640);
  for (const seed of [1000, 1001, 1002]) {
    const data = yolov5Scene(seed);
    const ours =
      decodeDetections(
        spec,
        { o: makeTensor('float32', [1, 25200, 85], data) },
        {
          inputHeight: 640,
          inputWidth: 640,
          mappings: [m],
        },
      )[0] ?? [];
    const base = baselineYolov5(data, 80, 0.25, 0.45, 300, lb);
    t.ok(ours.length > 3, `scene ${seed}: ${ours.length} detections`);
    t.equal(ours.length, base.length, `scene ${seed}: same count`);
    ours.forEach((d, i) => {
      const b = base[i];
      if (!b) return;
      t.equal(d.classId, b.cls);
      t.ok(Math.abs(d.score - b.score) < 1e-6, `score ${d.score} ~ ${b.score}`);
      const want = [clip(b.x1, 1280), clip(b.y1, 720), clip(b.x2, 1280), clip(b.y2, 720)];
      t.ok(
        d.box.every((v, k) => Math.abs(v - (want[k] as number)) < TOL),
        `box ${d.box} ~ ${want}`,
      );
    });
  }
});

t.test('retinaface priors with landmarks', async (t) => {
  const spec = parseDecoderSpec({
    kind: 'retinaface',
    layout: 'priors',
    outputs: { loc: 'loc', conf: 'conf', landmarks: 'landms' },
  }) as DetectorSpec & { kind: 'retinaface'; layout: 'priors' };
  const priors = retinafacePriors(spec, 384, 640);
  const P = priors.length;
  t.equal(P / 4, 10080, 'PyTorch RetinaFace priors for 384x640');
  const { m, lb } = letterbox(384, 640);
  for (const seed of [2000, 2001, 2002]) {
    const s = retinafaceScene(seed, priors);
    const ours =
      decodeDetections(
        spec,
        {
          loc: makeTensor('float32', [1, P / 4, 4], s.loc),
          conf: makeTensor('float32', [1, P / 4, 2], s.conf),
          landms: makeTensor('float32', [1, P / 4, 10], s.landmarks),
        },
        { inputHeight: 384, inputWidth: 640, mappings: [m] },
      )[0] ?? [];
    const base = baselineRetinaface(s.loc, s.conf, s.landmarks, 384, 640, 0.5, 0.4, 750, lb);
    t.ok(ours.length > 3, `scene ${seed}: ${ours.length} faces`);
    t.equal(ours.length, base.length, `scene ${seed}: same count`);
    ours.forEach((d, i) => {
      const b = base[i];
      if (!b) return;
      const want = [clip(b.x1, 1280), clip(b.y1, 720), clip(b.x2, 1280), clip(b.y2, 720)];
      t.ok(
        d.box.every((v, k) => Math.abs(v - (want[k] as number)) < TOL),
        `box ${d.box} ~ ${want}`,
      );
      t.ok(
        (d.landmarks ?? []).every((v, k) => Math.abs(v - (b.landmarks?.[k] as number)) < TOL),
        'landmarks',
      );
    });
  }
});
