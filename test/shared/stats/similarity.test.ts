import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  compareTensors,
  cosineSimilarity,
  DEFAULT_TOLERANCE,
  euclideanSimilarity,
  similarityAccumulator,
  sqnrDb,
} from '../../../shared/stats/similarity.js';
import type { SimilarityTolerance } from '../../../shared/stats/similarity.js';
import { makeTensor } from '../../../shared/tensor.js';
import { codeOf } from '../../../harness/errors.js';

interface Case {
  name: string;
  ref: number[];
  test: number[];
  tolerance: SimilarityTolerance | null;
  cosine: number | string;
  euclidean: number | string;
  sqnrDb: number | string;
  pass: boolean;
}
// Golden values computed independently in float64 (see each case's name for the hand formula).
const cases = JSON.parse(
  readFileSync(new URL('../../fixtures/stats/similarity.json', import.meta.url), 'utf8'),
) as Case[];
const num = (v: number | string): number => (typeof v === 'number' ? v : Number(v));

/** Equal for infinities, within 1e-12 relative otherwise. */
function isClose(got: number, want: number): boolean {
  if (!Number.isFinite(want)) return got === want;
  return Math.abs(got - want) <= 1e-12 * Math.max(1, Math.abs(want));
}

t.test('golden similarity values', async (t) => {
  for (const c of cases) {
    const r = compareTensors(c.ref, c.test, c.tolerance ?? DEFAULT_TOLERANCE);
    t.ok(isClose(r.cosine, num(c.cosine)), `${c.name}: cosine`);
    t.ok(isClose(r.euclidean, num(c.euclidean)), `${c.name}: euclidean`);
    t.ok(isClose(r.sqnrDb, num(c.sqnrDb)), `${c.name}: sqnr`);
    t.equal(r.pass, c.pass, `${c.name}: pass`);
    t.equal(cosineSimilarity(c.ref, c.test), r.cosine);
    t.equal(euclideanSimilarity(c.ref, c.test), r.euclidean);
    t.equal(sqnrDb(c.ref, c.test), r.sqnrDb);
  }
});

t.test('the hand-computed case, literally', async (t) => {
  const r = compareTensors([1, 2, 3], [1, 2, 4]);
  t.ok(isClose(r.cosine, 17 / Math.sqrt(14 * 21)), 'cosine = a.b / (|a||b|)');
  t.ok(isClose(r.euclidean, 1 - 1 / Math.sqrt(17.25)), 'euclidean = 1 - |a-b| / |(a+b)/2|');
  t.ok(isClose(r.sqnrDb, 10 * Math.log10(3)), 'sqnr = 10 log10(var(ref) / var(ref-test))');
});

t.test('tensors: dtypes and shapes', async (t) => {
  const ref = makeTensor('float32', [1, 3], Float32Array.from([1, 2, 3]));
  const test = makeTensor('int8', [1, 3], Int8Array.from([1, 2, 4]));
  t.ok(isClose(compareTensors(ref, test).cosine, 17 / Math.sqrt(294)), 'float32 vs int8');
  const other = makeTensor('float32', [3, 1], Float32Array.from([1, 2, 3]));
  t.equal(
    codeOf(() => compareTensors(ref, other)),
    'BMF_ERR_TENSOR_SHAPE',
    'shape mismatch',
  );
  t.equal(
    codeOf(() => compareTensors([1, 2], [1])),
    'BMF_ERR_TENSOR_SHAPE',
    'length mismatch',
  );
  t.equal(
    codeOf(() => compareTensors([], [])),
    'BMF_ERR_TENSOR_SHAPE',
    'empty',
  );
  t.equal(compareTensors([1, NaN], [1, 2]).pass, false, 'NaN never passes');
});

/** Equal for infinities, within `rel` relative otherwise. */
const within = (got: number, want: number, rel: number): boolean =>
  Number.isFinite(want) ? Math.abs(got - want) <= rel * Math.max(1, Math.abs(want)) : got === want;

/** The accumulator fed `ref`/`test` in chunks of the given lengths. */
function accumulate(ref: Float32Array, test: Float32Array, chunks: readonly number[]) {
  const acc = similarityAccumulator();
  let at = 0;
  for (const len of chunks) {
    acc.add(ref.subarray(at, at + len), test.subarray(at, at + len));
    at += len;
  }
  return acc;
}

t.test('streaming accumulator equals compareTensors over the concatenation', async (t) => {
  // Tolerance 1e-9 relative: the chunked sums add in another order than the whole-array ones.
  const check = (name: string, ref: Float32Array, test: Float32Array, chunks: number[]) => {
    const want = compareTensors(ref, test);
    const got = accumulate(ref, test, chunks).result();
    t.ok(within(got.cosine, want.cosine, 1e-9), `${name}: cosine ${got.cosine} vs ${want.cosine}`);
    t.ok(within(got.euclidean, want.euclidean, 1e-9), `${name}: euclidean`);
    t.ok(within(got.sqnrDb, want.sqnrDb, 1e-9), `${name}: sqnr ${got.sqnrDb} vs ${want.sqnrDb}`);
    t.equal(got.pass, want.pass, `${name}: pass`);
  };
  for (const c of cases) {
    const ref = Float32Array.from(c.ref);
    const test = Float32Array.from(c.test);
    check(`${c.name}, one chunk`, ref, test, [ref.length]);
    check(
      `${c.name}, one value per chunk`,
      ref,
      test,
      Array.from(ref, () => 1),
    );
  }
  // Activation-like values: 20 images of uneven size, a large offset against a small spread
  // (where a one-pass sum-of-squares variance would lose digits).
  let seed = 7;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const chunks = Array.from({ length: 20 }, (_, k) => 5000 + 37 * k);
  const n = chunks.reduce((a, b) => a + b, 0);
  const ref = Float32Array.from({ length: n }, () => 1000 + rand());
  const test = ref.map((x) => x + (rand() - 0.5) * 0.01);
  check('offset activations, 20 chunks', ref, test, chunks);
  const relu = Float32Array.from({ length: n }, () => Math.max(0, rand() - 0.3) * 6);
  const q = relu.map((x) => Math.round(x * 21) / 21);
  check('relu-like values quantized, 20 chunks', relu, q, chunks);
});

t.test('streaming accumulator rejects what compareTensors rejects', async (t) => {
  const acc = similarityAccumulator();
  t.throws(() => acc.add(new Float32Array(2), new Float32Array(1)), {
    code: 'BMF_ERR_TENSOR_SHAPE',
  });
  t.throws(() => acc.add(new Float32Array(0), new Float32Array(0)), {
    code: 'BMF_ERR_TENSOR_SHAPE',
  });
  t.throws(() => acc.result(), { code: 'BMF_ERR_TENSOR_SHAPE' }, 'nothing added');
});
