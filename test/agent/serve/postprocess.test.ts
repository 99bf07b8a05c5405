import t from 'tap';
import { topK } from '../../../agent/serve/postprocess.js';

// Reference: softmax of every class, stable sort by score, first k.
function reference(data: Float32Array, k: number) {
  const max = Math.max(...data);
  const exps = Array.from(data, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps
    .map((e, index) => ({ index, label: undefined, score: e / sum }))
    .sort((x, y) => y.score - x.score)
    .slice(0, k);
}

t.test('top-k equals a full softmax + stable sort, ties included (seeded cases)', async (t) => {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  let mismatches = 0;
  for (let trial = 0; trial < 1000; trial++) {
    const n = 1 + Math.floor(rnd() * 40);
    const k = Math.floor(rnd() * 8);
    // Half-steps make ties common.
    const data = Float32Array.from({ length: n }, () => Math.round(rnd() * 10) / 2);
    if (JSON.stringify(topK(data, k)) !== JSON.stringify(reference(data, k))) mismatches += 1;
  }
  t.equal(mismatches, 0);
});

t.test('labels, k larger than the classes, k of zero', async (t) => {
  const data = Float32Array.from([0, 2, 1]);
  t.same(
    topK(data, 5, ['a', 'b', 'c']).map((e) => e.label),
    ['b', 'c', 'a'],
  );
  t.same(topK(data, 0), []);
  const sum = topK(data, 3).reduce((s, e) => s + e.score, 0);
  t.ok(Math.abs(sum - 1) < 1e-12, 'scores are a softmax');
});
