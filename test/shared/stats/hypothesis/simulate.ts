// Simulated device telemetry for the error-rate checks of the experiment statistics: seeded PRNG,
// per-device sketches merged at each look, decisions by the always-valid (mSPRT) p-value.
// Not a test file itself: sequential.test.ts asserts on it, print-error-rates.ts prints it.
import { LatencySketch, mergeSketches } from '../../../../shared/stats/sketch.js';
import {
  accuracySampleSize,
  alwaysValidP,
  compareProportions,
  latencySampleSize,
  mannWhitney,
  mcNemar,
  pairedAccuracySampleSize,
  sketchBins,
} from '../../../../shared/stats/hypothesis/index.js';
import { gaussian, seededRandom } from '../../../../shared/stats/seeded-random.js';

export const ALPHA = 0.05;

/** Latency model of one board: lognormal around 5 ms, each device a little faster or slower. */
const BASE_MS = 5;
const REQUEST_SIGMA = 0.25;
const DEVICE_SIGMA = 0.1;
const DEVICES = 8;

export function pilotSketch(seed: number, n: number): LatencySketch {
  const rand = seededRandom(seed);
  const s = new LatencySketch();
  for (let i = 0; i < n; i++) {
    const device = Math.exp(DEVICE_SIGMA * gaussian(rand));
    s.add(BASE_MS * device * Math.exp(REQUEST_SIGMA * gaussian(rand)));
  }
  return s;
}

export interface RunResult {
  readonly runs: number;
  readonly rejected: number;
  /** Rejections in the expected direction (power runs only). */
  readonly rejectedCorrectly: number;
  readonly perArm: number;
  readonly looks: number;
}

/**
 * Traffic split on every device (B's latency = ratio * A's), looks after every perArm/looks
 * requests per arm. tau is the design effect on the superiority scale.
 */
export function simulateLatency(o: {
  seed: number;
  runs: number;
  perArm: number;
  looks: number;
  ratio: number;
  tau: number;
}): RunResult {
  const rand = seededRandom(o.seed);
  let rejected = 0;
  let correct = 0;
  for (let r = 0; r < o.runs; r++) {
    const speed = Array.from({ length: DEVICES }, () => Math.exp(DEVICE_SIGMA * gaussian(rand)));
    const a = speed.map(() => new LatencySketch());
    const b = speed.map(() => new LatencySketch());
    let p = 1;
    let sign = 0;
    const step = Math.ceil(o.perArm / o.looks);
    for (let look = 1; look <= o.looks; look++) {
      for (let i = 0; i < step; i++) {
        const da = Math.floor(rand() * DEVICES);
        a[da]!.add(BASE_MS * speed[da]! * Math.exp(REQUEST_SIGMA * gaussian(rand)));
        const db = Math.floor(rand() * DEVICES);
        b[db]!.add(o.ratio * BASE_MS * speed[db]! * Math.exp(REQUEST_SIGMA * gaussian(rand)));
      }
      const test = mannWhitney(sketchBins(mergeSketches(a)), sketchBins(mergeSketches(b)));
      const variance = test.varianceU / (test.nA * test.nB) ** 2;
      const next = alwaysValidP(p, { estimate: test.superiority, variance }, o.tau);
      if (next < ALPHA && p >= ALPHA) sign = Math.sign(test.superiority);
      p = next;
    }
    if (p < ALPHA) {
      rejected++;
      if (sign === Math.sign(o.ratio - 1)) correct++;
    }
  }
  return { runs: o.runs, rejected, rejectedCorrectly: correct, perArm: o.perArm, looks: o.looks };
}

function binomial(rand: () => number, n: number, p: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) if (rand() < p) x++;
  return x;
}

/** Unpaired accuracy (golden/feedback labels), two-proportion comparison with mSPRT. */
export function simulateAccuracy(o: {
  seed: number;
  runs: number;
  perArm: number;
  looks: number;
  pA: number;
  pB: number;
  tau: number;
}): RunResult {
  const rand = seededRandom(o.seed);
  let rejected = 0;
  let correct = 0;
  const step = Math.ceil(o.perArm / o.looks);
  for (let r = 0; r < o.runs; r++) {
    let xA = 0;
    let xB = 0;
    let n = 0;
    let p = 1;
    let sign = 0;
    for (let look = 1; look <= o.looks; look++) {
      xA += binomial(rand, step, o.pA);
      xB += binomial(rand, step, o.pB);
      n += step;
      const c = compareProportions(xA, n, xB, n);
      const next = alwaysValidP(
        p,
        { estimate: c.difference.estimate, variance: c.variance },
        o.tau,
      );
      if (next < ALPHA && p >= ALPHA) sign = Math.sign(c.difference.estimate);
      p = next;
    }
    if (p < ALPHA) {
      rejected++;
      if (sign === Math.sign(o.pB - o.pA)) correct++;
    }
  }
  return { runs: o.runs, rejected, rejectedCorrectly: correct, perArm: o.perArm, looks: o.looks };
}

/** Paired shadow results: each pair is (A right?, B right?) with the given discordant shares. */
export function simulatePaired(o: {
  seed: number;
  runs: number;
  pairs: number;
  looks: number;
  aOnly: number;
  bOnly: number;
  tau: number;
}): RunResult {
  const rand = seededRandom(o.seed);
  let rejected = 0;
  let correct = 0;
  const step = Math.ceil(o.pairs / o.looks);
  for (let r = 0; r < o.runs; r++) {
    let aOnly = 0;
    let bOnly = 0;
    let n = 0;
    let p = 1;
    let sign = 0;
    for (let look = 1; look <= o.looks; look++) {
      for (let i = 0; i < step; i++) {
        const u = rand();
        if (u < o.aOnly) aOnly++;
        else if (u < o.aOnly + o.bOnly) bOnly++;
      }
      n += step;
      const m = mcNemar(aOnly, bOnly, n);
      const next = alwaysValidP(p, { estimate: m.difference, variance: m.variance }, o.tau);
      if (next < ALPHA && p >= ALPHA) sign = Math.sign(m.difference);
      p = next;
    }
    if (p < ALPHA) {
      rejected++;
      if (sign === Math.sign(o.bOnly - o.aOnly)) correct++;
    }
  }
  return { runs: o.runs, rejected, rejectedCorrectly: correct, perArm: o.pairs, looks: o.looks };
}

export const RUNS = 200;
export const LOOKS = 10;
/** Design effects the experiments below are sized for. */
export const LATENCY_RATIO = 1.05;
export const ACCURACY = { p: 0.76, drop: 0.05 };
export const PAIRED = { aOnly: 0.06, bOnly: 0.03 };

export function errorRates(): Record<
  string,
  { rate: number; perArm: number; looks: number; runs: number }
> {
  const pilot = sketchBins(pilotSketch(7, 20000));
  const lat = latencySampleSize(pilot, (v) => v * LATENCY_RATIO);
  const acc = accuracySampleSize(ACCURACY.p, ACCURACY.drop);
  const pairedDelta = PAIRED.bOnly - PAIRED.aOnly;
  const paired = pairedAccuracySampleSize(PAIRED.aOnly + PAIRED.bOnly, pairedDelta);
  const out: Record<string, { rate: number; perArm: number; looks: number; runs: number }> = {};
  const put = (name: string, r: RunResult, power: boolean): void => {
    out[name] = {
      rate: (power ? r.rejectedCorrectly : r.rejected) / r.runs,
      perArm: r.perArm,
      looks: r.looks,
      runs: r.runs,
    };
  };
  const common = { runs: RUNS, looks: LOOKS };
  put(
    'latency A/A false positives',
    simulateLatency({
      ...common,
      seed: 1,
      perArm: lat.sequentialPerArm,
      ratio: 1,
      tau: lat.effect,
    }),
    false,
  );
  put(
    'latency +5% power',
    simulateLatency({
      ...common,
      seed: 2,
      perArm: lat.sequentialPerArm,
      ratio: LATENCY_RATIO,
      tau: lat.effect,
    }),
    true,
  );
  put(
    'accuracy A/A false positives',
    simulateAccuracy({
      ...common,
      seed: 3,
      perArm: acc.sequentialPerArm,
      pA: ACCURACY.p,
      pB: ACCURACY.p,
      tau: ACCURACY.drop,
    }),
    false,
  );
  put(
    'accuracy -5pt power',
    simulateAccuracy({
      ...common,
      seed: 4,
      perArm: acc.sequentialPerArm,
      pA: ACCURACY.p,
      pB: ACCURACY.p - ACCURACY.drop,
      tau: ACCURACY.drop,
    }),
    true,
  );
  put(
    'paired A/A false positives',
    simulatePaired({
      ...common,
      seed: 5,
      pairs: paired.sequentialPerArm,
      aOnly: 0.045,
      bOnly: 0.045,
      tau: Math.abs(pairedDelta),
    }),
    false,
  );
  put(
    'paired -3pt power',
    simulatePaired({
      ...common,
      seed: 6,
      pairs: paired.sequentialPerArm,
      ...PAIRED,
      tau: Math.abs(pairedDelta),
    }),
    true,
  );
  return out;
}
