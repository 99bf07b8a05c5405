// A detector's golden file carries ground-truth boxes per input: they survive the round trip, and
// a file whose boxes do not fit its inputs is refused at the edge (BMF_ERR_BUNDLE_MANIFEST).
import t from 'tap';
import { encodeGoldenFile, parseGoldenFile } from '../../../agent/serve/golden-file.js';
import { makeTensor } from '../../../shared/tensor.js';

const input = { images: makeTensor('float32', [1, 1, 2, 2], new Float32Array([0, 1, 2, 3])) };
const boxes = [
  { width: 192, height: 144, boxes: [{ classId: 2, box: [1, 2, 30.5, 40] as const }] },
];

t.test('boxes round-trip', async (t) => {
  const back = parseGoldenFile(encodeGoldenFile({ inputs: [input], boxes }));
  t.same(back.boxes, boxes);
});

const bad: [string, unknown, RegExp][] = [
  [
    'more box lists than inputs',
    { boxes: [0, 1].map(() => ({ width: 192, height: 144, boxes: [[2, 1, 2, 30.5, 40]] })) },
    /boxes and inputs differ/,
  ],
  ['x2 below x1', { boxes: [{ width: 10, height: 10, boxes: [[0, 5, 0, 1, 1]] }] }, /x2 < x1/],
  ['a box without a class', { boxes: [{ width: 10, height: 10, boxes: [[1, 1, 2, 2]] }] }, /boxes/],
  ['zero width image', { boxes: [{ width: 0, height: 10, boxes: [] }] }, /width/],
];
for (const [why, patch, message] of bad) {
  t.test(why, async (t) => {
    const json = JSON.parse(
      new TextDecoder().decode(encodeGoldenFile({ inputs: [input] })),
    ) as object;
    const bytes = new TextEncoder().encode(JSON.stringify({ ...json, ...(patch as object) }));
    t.throws(() => parseGoldenFile(bytes), { code: 'BMF_ERR_BUNDLE_MANIFEST', message });
  });
}
