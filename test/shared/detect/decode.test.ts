// Every decoder against hand-built outputs whose detections were worked out from the reference
// formulas (test/fixtures/detect/make-decode-cases.py): geometry back to source pixels, NMS
// per class and class-agnostic, thresholds, INT8 dequantisation, layouts, and typed errors.
import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  checkDecoderFits,
  decodeDetections,
  isDetector,
  parseDecoderSpec,
  type Detection,
} from '../../../shared/detect/index.js';
import {
  parsePreprocessSpec,
  sourceMapping,
  tensorMapping,
} from '../../../shared/preprocess/index.js';
import { makeTensor, shapeSize, type Tensor } from '../../../shared/tensor.js';

interface OutputCase {
  dtype: 'float32' | 'int8';
  shape: number[];
  data?: number[];
  fill?: number;
  set?: [number[] | number, number][];
  quant?: { scale: number; zeroPoint: number };
}
interface DecodeCase {
  name: string;
  decoder: unknown;
  input?: [number, number];
  source?: { width: number; height: number; preprocess: unknown };
  outputs: Record<string, OutputCase>;
  expected?: { box: number[]; score: number; classId: number; landmarks?: number[] }[][];
  error?: string;
}
const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/detect/decode-cases.json', import.meta.url), 'utf8'),
) as { tolerance: number; cases: DecodeCase[] };

function flatIndex(shape: readonly number[], idx: number[] | number): number {
  if (typeof idx === 'number') return idx;
  return idx.reduce((acc, v, i) => acc * (shape[i] as number) + v, 0);
}

function tensorOf(o: OutputCase): Tensor {
  const n = shapeSize(o.shape);
  const data = o.dtype === 'int8' ? new Int8Array(n) : new Float32Array(n);
  if (o.data) data.set(o.data);
  else data.fill(o.fill ?? 0);
  for (const [idx, v] of o.set ?? []) data[flatIndex(o.shape, idx)] = v;
  return o.dtype === 'int8'
    ? makeTensor('int8', o.shape, data as Int8Array)
    : makeTensor('float32', o.shape, data as Float32Array);
}

for (const c of fixture.cases) {
  t.test(c.name, async (t) => {
    const spec = parseDecoderSpec(c.decoder);
    if (!isDetector(spec)) throw new Error('fixture decoders are detectors');
    const outputs: Record<string, Tensor> = {};
    const quantization: Record<string, { scale: number; zeroPoint: number }> = {};
    for (const [name, o] of Object.entries(c.outputs)) {
      outputs[name] = tensorOf(o);
      if (o.quant) quantization[name] = o.quant;
    }
    let input: [number, number];
    let mapping;
    if (c.source) {
      const pre = parsePreprocessSpec(c.source.preprocess);
      input = [pre.resize_dims[0], pre.resize_dims[1]];
      mapping = sourceMapping(c.source.width, c.source.height, pre);
    } else {
      input = c.input as [number, number];
      mapping = tensorMapping(input[1], input[0]);
    }
    const ctx = { inputHeight: input[0], inputWidth: input[1], mappings: [mapping], quantization };
    const shapes = Object.entries(outputs).map(([name, x]) => ({ name, shape: x.shape }));
    if (c.error) {
      t.throws(() => decodeDetections(spec, outputs, ctx), { code: c.error });
      t.throws(
        () => checkDecoderFits(spec, shapes, { height: input[0], width: input[1] }),
        { code: c.error },
        'the packaging check refuses it too',
      );
      return;
    }
    t.doesNotThrow(() => checkDecoderFits(spec, shapes, { height: input[0], width: input[1] }));
    const got = decodeDetections(spec, outputs, ctx);
    const want = c.expected ?? [];
    t.equal(got.length, want.length, 'one list per batch item');
    const tol = fixture.tolerance;
    want.forEach((items, b) => {
      const dets = got[b] as Detection[];
      t.equal(dets.length, items.length, `item ${b}: detection count`);
      items.forEach((w, i) => {
        const d = dets[i];
        if (!d) return;
        t.equal(d.classId, w.classId, `item ${b} #${i} class`);
        t.ok(Math.abs(d.score - w.score) <= tol, `item ${b} #${i} score ${d.score} ~ ${w.score}`);
        w.box.forEach((v, k) =>
          t.ok(Math.abs((d.box[k] as number) - v) <= tol, `#${i} box[${k}] ${d.box[k]} ~ ${v}`),
        );
        t.equal(d.landmarks?.length, w.landmarks?.length, `#${i} landmark count`);
        w.landmarks?.forEach((v, k) =>
          t.ok(
            Math.abs((d.landmarks?.[k] as number) - v) <= tol,
            `#${i} landmark[${k}] ${d.landmarks?.[k]} ~ ${v}`,
          ),
        );
      });
    });
  });
}

t.test('decoder specs: classify is the default, bad parameters are typed errors', async (t) => {
  t.same(parseDecoderSpec(undefined), { kind: 'classify' });
  const y = parseDecoderSpec({ kind: 'yolov5', outputs: ['o'], num_classes: 80 });
  t.match(y, {
    score_threshold: 0.25,
    iou_threshold: 0.45,
    max_detections: 300,
    class_agnostic: false,
  });
  t.ok(Object.isFrozen(y));
  const bad: [unknown, string][] = [
    [{ kind: 'ssd' }, 'kind'],
    [{ kind: 'retinaface', layout: 'grid' }, 'layout'],
    [{ kind: 'yolov8', output: 'o', num_classes: 0 }, 'num_classes'],
    [{ kind: 'yolov8', output: 'o', num_classes: 2, score_threshold: 1.5 }, 'score_threshold'],
    [{ kind: 'yolov5', outputs: ['a', 'b'], num_classes: 2 }, 'strides'],
    [
      { kind: 'yolov5', outputs: ['a', 'b', 'c'], num_classes: 2, anchors: [[1, 2], [3, 4], [5]] },
      'anchors.2',
    ],
    [{ kind: 'yolov8', output: 'o', num_classes: 2, extra: 1 }, 'extra'],
  ];
  for (const [json, field] of bad) {
    t.throws(
      () => parseDecoderSpec(json),
      { code: 'BMF_ERR_DECODER_SPEC', details: { field } },
      `${JSON.stringify(json)} -> ${field}`,
    );
  }
});
