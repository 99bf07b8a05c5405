// The seeded generator is the one every reproducible input is drawn from (validation pixels,
// simulated traffic, fuzz cases): its sequence must not change under anyone's feet.
import t from 'tap';
import {
  gaussian,
  seededBytes,
  seededRandom,
  seededUint32,
} from '../../../shared/stats/seeded-random.js';

t.test('mulberry32 gives its published sequence', async (t) => {
  const r = seededRandom(42);
  t.same([r(), r(), r()], [0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
  const u = seededUint32(1);
  t.same([u(), u(), u()], [2693262067, 11749833, 2265367787]);
});

t.test('bytes are the low byte of each draw', async (t) => {
  const u = seededUint32(7);
  const expected = Array.from({ length: 8 }, () => u() & 0xff);
  t.same(Array.from(seededBytes(8, 7)), expected);
  t.same(Array.from(seededBytes(8, 7)), [44, 18, 94, 150, 231, 244, 149, 171]);
});

t.test('the same seed repeats, another does not', async (t) => {
  const [a, b, c] = [seededRandom(5), seededRandom(5), seededRandom(6)];
  const xs = Array.from({ length: 100 }, () => a());
  t.same(
    Array.from({ length: 100 }, () => b()),
    xs,
  );
  t.not(c(), xs[0]);
  t.ok(
    xs.every((x) => x >= 0 && x < 1),
    'uniform values lie in [0, 1)',
  );
});

t.test('gaussian draws have mean 0 and variance 1', async (t) => {
  const r = seededRandom(3);
  const n = 200_000;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    const x = gaussian(r);
    sum += x;
    sumSq += x * x;
  }
  // Standard errors: 1/sqrt(n) = 0.0022 for the mean, sqrt(2/n) = 0.0032 for the variance;
  // five of them as tolerance.
  t.ok(Math.abs(sum / n) < 0.012, `mean ${sum / n}`);
  t.ok(Math.abs(sumSq / n - 1) < 0.016, `variance ${sumSq / n}`);
});
