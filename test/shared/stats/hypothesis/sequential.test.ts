// The acceptance for the statistics: A/A false-positive rate <= 5 % with repeated looks,
// and >= 80 % power at the sample size the tool computes. Print the figures with
// `npx tsx test/shared/stats/hypothesis/print-error-rates.ts`.
import t from 'tap';
import {
  alwaysValidP,
  confidenceSequence,
  sequentialBoundaryZ,
} from '../../../../shared/stats/hypothesis/index.js';
import { errorRates, RUNS } from './simulate.js';

t.test('mSPRT basics', async (t) => {
  t.equal(alwaysValidP(1, { estimate: 0, variance: 0.01 }, 0.1) <= 1, true);
  // The p-value never rises once it fell.
  const p1 = alwaysValidP(1, { estimate: 0.5, variance: 0.01 }, 0.1);
  t.equal(alwaysValidP(p1, { estimate: 0, variance: 0.01 }, 0.1), p1);
  // The boundary is wider than the fixed-horizon 1.96 and, once the standard error is below tau,
  // grows slowly (logarithmically) with n.
  const c1 = sequentialBoundaryZ(0.05 ** 2 / 10, 0.05, 0.05);
  const c2 = sequentialBoundaryZ(0.05 ** 2 / 1e4, 0.05, 0.05);
  t.ok(c1 > 1.96 && c2 > c1, `${c1} ${c2}`);
  const cs = confidenceSequence({ estimate: 0.1, variance: 1e-4 }, 0.05, 0.05);
  t.ok(cs.low < 0.1 && cs.high > 0.1 && cs.low > 0.05);
});

t.test('A/A false positives and power at the computed sample size', async (t) => {
  const rates = errorRates();
  for (const [name, r] of Object.entries(rates)) {
    t.equal(r.runs, RUNS);
    t.ok(r.runs >= 200);
    t.comment(`${name}: ${(r.rate * 100).toFixed(1)} % at n ${r.perArm} per arm, ${r.looks} looks`);
    if (name.includes('A/A')) t.ok(r.rate <= 0.05, `${name} ${r.rate}`);
    else t.ok(r.rate >= 0.8, `${name} ${r.rate}`);
  }
});
