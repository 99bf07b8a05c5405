import t from 'tap';
import { readFileSync } from 'node:fs';
import { LatencySketch } from '../../../../shared/stats/sketch.js';
import {
  accuracySampleSize,
  agreementRate,
  binsFromValues,
  compareProportions,
  hodgesLehmann,
  mannWhitney,
  mcNemar,
  normalCdf,
  normalQuantile,
  pairedAccuracySampleSize,
  quantileDifferences,
  sketchBins,
  wilsonInterval,
} from '../../../../shared/stats/hypothesis/index.js';
import { gaussian, seededRandom } from '../../../../shared/stats/seeded-random.js';

interface Fixture {
  wilson: { x: number; n: number; low: number; high: number }[];
  newcombe: { xA: number; nA: number; xB: number; nB: number; low: number; high: number }[];
  mcnemar: { aOnly: number; bOnly: number; pairs: number; method: string; pValue: number }[];
}
const fixture = JSON.parse(
  readFileSync(new URL('../../../fixtures/experiment/proportions.json', import.meta.url), 'utf8'),
) as Fixture;

t.test('normal distribution', async (t) => {
  t.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-5);
  t.ok(Math.abs(normalQuantile(0.8) - 0.841621) < 1e-5);
  t.ok(Math.abs(normalCdf(-3) - 0.0013499) < 1e-6);
  for (const p of [1e-6, 0.01, 0.3, 0.5, 0.9, 0.999]) {
    t.ok(
      Math.abs(normalCdf(normalQuantile(p)) - p) < 1e-7 * Math.max(1, p * 10),
      `round trip ${p}`,
    );
  }
});

t.test('Wilson, Newcombe and McNemar against published values', async (t) => {
  for (const c of fixture.wilson) {
    const w = wilsonInterval(c.x, c.n);
    t.ok(
      Math.abs(w.low - c.low) < 6e-5 && Math.abs(w.high - c.high) < 6e-5,
      `wilson ${c.x}/${c.n}: ${w.low} ${w.high}`,
    );
  }
  for (const c of fixture.newcombe) {
    const d = compareProportions(c.xA, c.nA, c.xB, c.nB).difference;
    t.ok(
      Math.abs(d.low - c.low) < 6e-5 && Math.abs(d.high - c.high) < 6e-5,
      `newcombe ${JSON.stringify(c)}: ${d.low} ${d.high}`,
    );
  }
  for (const c of fixture.mcnemar) {
    const m = mcNemar(c.aOnly, c.bOnly, c.pairs);
    t.equal(m.method, c.method);
    t.ok(Math.abs(m.pValue - c.pValue) < 1e-5, `mcnemar ${c.aOnly}/${c.bOnly}: ${m.pValue}`);
  }
  const ag = agreementRate(970, 1000);
  t.ok(ag.low < 0.97 && ag.high > 0.97 && ag.high < 1);
});

/** Brute-force U (ties 1/2) and Hodges-Lehmann median from raw values. */
function brute(a: number[], b: number[]): { u: number; median: number } {
  let u = 0;
  const diffs: number[] = [];
  for (const x of a) {
    for (const y of b) {
      u += y > x ? 1 : y === x ? 0.5 : 0;
      diffs.push(y - x);
    }
  }
  diffs.sort((p, q) => p - q);
  const m = diffs.length;
  const median = m % 2 ? diffs[(m - 1) / 2]! : (diffs[m / 2 - 1]! + diffs[m / 2]!) / 2;
  return { u, median };
}

t.test('Mann-Whitney U and Hodges-Lehmann agree with brute force (with ties)', async (t) => {
  const rand = seededRandom(11);
  for (let k = 0; k < 20; k++) {
    const a = Array.from({ length: 5 + Math.floor(rand() * 40) }, () => Math.round(rand() * 20));
    const b = Array.from({ length: 5 + Math.floor(rand() * 40) }, () =>
      Math.round(rand() * 20 + k / 4),
    );
    const bf = brute(a, b);
    const mw = mannWhitney(binsFromValues(a), binsFromValues(b));
    t.equal(mw.uB, bf.u, `U case ${k}`);
    const hl = hodgesLehmann(binsFromValues(a), binsFromValues(b));
    t.equal(hl.shift, bf.median, `HL case ${k}`);
    t.ok(hl.low <= hl.shift && hl.shift <= hl.high);
  }
  // Small textbook case without ties: z matches the hand formula.
  const mw = mannWhitney(binsFromValues([1, 2, 3, 4]), binsFromValues([5, 6, 7, 8]));
  t.equal(mw.uB, 16);
  t.ok(Math.abs(mw.z - (16 - 8) / Math.sqrt((4 * 4 * 9) / 12)) < 1e-12);
});

t.test('sketch bins: rank test and shift recover a known shift from merged sketches', async (t) => {
  const rand = seededRandom(5);
  const a = new LatencySketch();
  const b = new LatencySketch();
  for (let i = 0; i < 20000; i++) {
    a.add(10 * Math.exp(0.2 * gaussian(rand)));
    b.add(10 * Math.exp(0.2 * gaussian(rand)) + 0.5);
  }
  const ba = sketchBins(a);
  t.equal(ba.total, 20000);
  const mw = mannWhitney(ba, sketchBins(b));
  t.ok(mw.pValue < 1e-10 && mw.superiority > 0);
  const hl = hodgesLehmann(ba, sketchBins(b));
  t.ok(hl.low < 0.5 && hl.high > 0.5, `CI [${hl.low}, ${hl.high}] covers the 0.5 ms shift`);
  t.ok(hl.high - hl.low < 0.2);
});

t.test('quantile difference intervals cover the truth at >= the nominal rate', async (t) => {
  // Both arms lognormal(ln 10, 0.3); B is 10 % slower, so every quantile difference is known.
  const z = (q: number): number => normalQuantile(q);
  let covered = 0;
  let total = 0;
  const rand = seededRandom(9);
  for (let run = 0; run < 60; run++) {
    const a = new LatencySketch();
    const b = new LatencySketch();
    for (let i = 0; i < 3000; i++) {
      a.add(10 * Math.exp(0.3 * gaussian(rand)));
      b.add(11 * Math.exp(0.3 * gaussian(rand)));
    }
    for (const d of quantileDifferences(a, b)) {
      const truth = Math.exp(0.3 * z(d.q)) * (11 - 10);
      total++;
      if (d.low <= truth && truth <= d.high) covered++;
    }
  }
  t.ok(covered / total >= 0.95, `coverage ${covered}/${total}`);
});

t.test('sample sizes', async (t) => {
  // docs/vendor.md section 5: ~29k per arm for a 1-point drop at 76 % (alpha 0.05, power 0.8).
  const acc = accuracySampleSize(0.76, 0.01);
  t.ok(acc.fixedPerArm > 28500 && acc.fixedPerArm < 29500, `fixed ${acc.fixedPerArm}`);
  t.ok(acc.sequentialPerArm > acc.fixedPerArm, 'always-valid inference needs more samples');
  // Paired designs need far fewer (same section): 3 % discordant pairs.
  const paired = pairedAccuracySampleSize(0.03, 0.01);
  t.ok(paired.fixedPerArm < acc.fixedPerArm / 5, `paired ${paired.fixedPerArm}`);
});
