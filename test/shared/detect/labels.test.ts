// Ground-truth box formats (YOLO txt, COCO JSON) into source pixels, bad input as
// BMF_ERR_DETECTION_DATA naming the place; and detectionMap over decoder outputs: boxes decoded
// exactly onto the ground truth score 1, a miss lowers recall as pycocotools would. Cases are data.
import t from 'tap';
import { detectionMap, parseCocoBoxes, parseYoloLabels } from '../../../shared/detect/index.js';
import { parseDecoderSpec, isDetector } from '../../../shared/detect/index.js';
import { tensorMapping } from '../../../shared/preprocess/geometry.js';
import { makeTensor } from '../../../shared/tensor.js';

t.test('YOLO txt lines become pixel boxes', async (t) => {
  t.same(parseYoloLabels('1 0.5 0.5 0.25 0.5\n\n0 0.1 0.2 0.2 0.4\n', 200, 100, 'a.txt'), [
    { classId: 1, box: [75, 25, 125, 75] },
    { classId: 0, box: [0, 0, 40, 40] },
  ]);
  t.same(parseYoloLabels('', 10, 10, 'empty.txt'), []);
  const bad = [
    ['1 0.5 0.5 0.25', /a\.txt:1/],
    ['x 0.5 0.5 0.1 0.1', /a\.txt:1/],
    ['-1 0.5 0.5 0.1 0.1', /class -1/],
    ['0 0.5 0.5 0.1 0.1\n0 1.5 0.5 0.1 0.1', /a\.txt:2.*normalised/],
  ] as const;
  for (const [text, why] of bad) {
    t.throws(() => parseYoloLabels(text, 10, 10, 'a.txt'), {
      code: 'BMF_ERR_DETECTION_DATA',
      message: why,
    });
  }
});

t.test('COCO JSON by file name, crowd left out', async (t) => {
  const doc = {
    images: [
      { id: 7, file_name: 'a.jpg', width: 100, height: 50 },
      { id: 8, file_name: 'b.jpg', width: 10, height: 10 },
    ],
    annotations: [
      { image_id: 7, category_id: 2, bbox: [10, 5, 20, 10] },
      { image_id: 7, category_id: 1, bbox: [0, 0, 5, 5], iscrowd: 1 },
    ],
  };
  const m = parseCocoBoxes(doc);
  t.same(m.get('a.jpg'), { width: 100, height: 50, boxes: [{ classId: 2, box: [10, 5, 30, 15] }] });
  t.same(m.get('b.jpg'), { width: 10, height: 10, boxes: [] });
  const bad: [unknown, RegExp][] = [
    [[], /images/],
    [{ images: [{ id: 1, width: 1, height: 1 }], annotations: [] }, /file_name/],
    [{ images: [{ id: 1, file_name: 'a', width: 0, height: 1 }], annotations: [] }, /positive/],
    [
      { images: [], annotations: [{ image_id: 3, category_id: 0, bbox: [0, 0, 1, 1] }] },
      /no image 3/,
    ],
    [
      {
        images: [{ id: 1, file_name: 'a', width: 1, height: 1 }],
        annotations: [{ image_id: 1, category_id: 0, bbox: [0, 0, -1, 1] }],
      },
      /bbox/,
    ],
    [
      {
        images: [
          { id: 1, file_name: 'a', width: 1, height: 1 },
          { id: 2, file_name: 'a', width: 1, height: 1 },
        ],
        annotations: [],
      },
      /listed twice/,
    ],
  ];
  for (const [json, why] of bad) {
    t.throws(() => parseCocoBoxes(json), { code: 'BMF_ERR_DETECTION_DATA', message: why });
  }
});

t.test('detectionMap decodes outputs and scores them against the truth', async (t) => {
  // yolov8 [1, 4+C, boxes]: cx, cy, w, h, then class scores.
  const spec = parseDecoderSpec({ kind: 'yolov8', output: 'out', num_classes: 2 });
  if (!isDetector(spec)) throw new Error('not a detector');
  const boxes = [
    [20, 20, 10, 10, 0.9, 0.0],
    [60, 40, 20, 20, 0.0, 0.8],
  ];
  const data = new Float32Array(6 * boxes.length);
  boxes.forEach((b, j) => b.forEach((v, k) => (data[k * boxes.length + j] = v)));
  const outputs = { out: makeTensor('float32', [1, 6, boxes.length], data) };
  const ctx = { inputHeight: 64, inputWidth: 96 };
  const mapping = tensorMapping(96, 64);
  const exact = [
    { classId: 0, box: [15, 15, 25, 25] as const },
    { classId: 1, box: [50, 30, 70, 50] as const },
  ];
  const all = detectionMap(spec, [{ outputs, mapping, truth: exact }], ctx);
  // Means of 101 precision values: equal to 1 within float rounding.
  t.ok(Math.abs(all.map - 1) < 1e-12, `mAP ${all.map}`);
  t.ok(Math.abs(all.map50 - 1) < 1e-12, `AP50 ${all.map50}`);
  // A third object nobody found: class 1 recall 1/2 -> AP 0.5 (101-point), mAP (1 + 0.5) / 2.
  const missed = detectionMap(
    spec,
    [{ outputs, mapping, truth: [...exact, { classId: 1, box: [0, 40, 10, 50] }] }],
    ctx,
  );
  t.ok(Math.abs(missed.map - (1 + 51 / 101) / 2) < 1e-12, `mAP ${missed.map}`);
});
