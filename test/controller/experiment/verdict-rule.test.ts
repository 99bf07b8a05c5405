// One verdict rule for requests and devices: when every device contributes one observation, the
// request-level and the device-level latency comparisons see the same ranks, so they must give
// the same always-valid p. The two once set the mSPRT's tau differently for a design effect
// below the floor (|effect| there, max(0.05, |effect|) here); this case sits below it.
import t from 'tap';
import { LatencySketch, mergeSketches } from '../../../shared/stats/sketch.js';
import {
  latencySampleSize,
  binsFromValues,
  MIN_SUPERIORITY_TAU,
  superiorityMixtureScale,
} from '../../../shared/stats/hypothesis/index.js';
import { compareLatency } from '../../../controller/experiment/metrics.js';
import { compareLatencyByDevice } from '../../../controller/experiment/metrics-by-device.js';

const DEVICES = 40;
const MDE = 0.01;
// Values 10 % apart (sketch bins are 1 % wide, so binning keeps every rank); B sits between A's
// grid points, so no value of one arm ties one of the other.
const valuesA = Array.from({ length: DEVICES }, (_, i) => 10 * 1.1 ** i);
const valuesB = valuesA.map((v) => v * 1.1 ** 3 * 1.05);

const oneValue = (ms: number): LatencySketch => {
  const s = new LatencySketch();
  s.add(ms);
  return s;
};

t.test('requests and devices: the same observations give the same always-valid p', async (t) => {
  const design = latencySampleSize(binsFromValues(valuesA), (v) => v * (1 + MDE));
  t.ok(
    Math.abs(design.effect) < MIN_SUPERIORITY_TAU,
    `the design effect ${design.effect} is below the floor, where the rules once differed`,
  );
  t.equal(superiorityMixtureScale(design.effect), MIN_SUPERIORITY_TAU);
  const ctx = { alpha: 0.05, minSamples: 1, previousP: 1 };
  const devA = valuesA.map(oneValue);
  const devB = valuesB.map(oneValue);
  const byRequest = compareLatency(
    'latency.e2e',
    mergeSketches(devA),
    mergeSketches(devB),
    MDE,
    ctx,
  );
  const byDevice = compareLatencyByDevice('latency.e2e', devA, devB, MDE, ctx);
  t.equal(byRequest.unitOfAnalysis, 'requests');
  t.equal(byDevice.unitOfAnalysis, 'devices');
  t.ok(byRequest.alwaysValidP < 1, `a test that moved: p = ${byRequest.alwaysValidP}`);
  // Same ranks, same variance, same tau: equal up to float rounding.
  t.ok(
    Math.abs(byRequest.alwaysValidP - byDevice.alwaysValidP) <= 1e-9 * byDevice.alwaysValidP,
    `p by request ${byRequest.alwaysValidP} = p by device ${byDevice.alwaysValidP}`,
  );
  t.equal(byRequest.verdict, byDevice.verdict);
});

t.test(
  'the mixture scale: |effect| with a floor, also for a zero or undefined effect',
  async (t) => {
    const cases: [number, number][] = [
      [0, MIN_SUPERIORITY_TAU],
      [NaN, MIN_SUPERIORITY_TAU],
      [0.01, MIN_SUPERIORITY_TAU],
      [-0.2, 0.2],
      [0.3, 0.3],
    ];
    for (const [effect, tau] of cases) t.equal(superiorityMixtureScale(effect), tau, `${effect}`);
  },
);
