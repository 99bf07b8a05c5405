// Simulated cohort experiments with real between-device variance: every device has its own speed
// (lognormal random effect) and its own accuracy (random effect on the logit), and all of a
// device's requests go to its arm. Each run is analysed twice: the request-level comparison of
// merged telemetry (what cohorts used before) and the device-level one. Not a test file itself.
import { LatencySketch, mergeSketches } from '../../../shared/stats/sketch.js';
import type { ClusterCount } from '../../../shared/stats/hypothesis/index.js';
import {
  compareLatency,
  compareRates,
  type CompareContext,
} from '../../../controller/experiment/metrics.js';
import {
  compareLatencyByDevice,
  compareRatesByDevice,
} from '../../../controller/experiment/metrics-by-device.js';
import { gaussian, seededRandom } from '../../../shared/stats/seeded-random.js';

export const COHORT_MODEL = {
  baseMs: 5,
  requestSigma: 0.25,
  /** Between-device spread of log latency (boards differ by ~20 %: thermals, clocks, inputs). */
  deviceSigma: 0.2,
  accuracy: 0.85,
  /** Between-device spread of the accuracy logit (input mix differs per site). */
  deviceLogitSigma: 0.6,
  latencyMde: 0.05,
  accuracyMde: 0.02,
};

export interface CohortRun {
  readonly devicesPerArm: number;
  readonly requestsPerDevice: number;
  /** B's latency = ratio * A's. */
  readonly latencyRatio: number;
  /** Added to B's accuracy logit. */
  readonly accuracyLogitShift: number;
  /** The effects the experiment is sized for (the mSPRT's tau); default COHORT_MODEL's. */
  readonly latencyMde?: number;
  readonly accuracyMde?: number;
}

export interface Rejections {
  latency: number;
  accuracy: number;
  latencyFaster: number;
  accuracyLower: number;
}

interface ArmData {
  sketches: LatencySketch[];
  counts: ClusterCount[];
}

function arm(rand: () => number, run: CohortRun, ratio: number, logitShift: number): ArmData {
  const m = COHORT_MODEL;
  const baseLogit = Math.log(m.accuracy / (1 - m.accuracy));
  const sketches: LatencySketch[] = [];
  const counts: ClusterCount[] = [];
  for (let d = 0; d < run.devicesPerArm; d++) {
    const speed = ratio * m.baseMs * Math.exp(m.deviceSigma * gaussian(rand));
    const p = 1 / (1 + Math.exp(-(baseLogit + logitShift + m.deviceLogitSigma * gaussian(rand))));
    const s = new LatencySketch();
    let x = 0;
    for (let i = 0; i < run.requestsPerDevice; i++) {
      s.add(speed * Math.exp(m.requestSigma * gaussian(rand)));
      if (rand() < p) x++;
    }
    sketches.push(s);
    counts.push({ x, n: run.requestsPerDevice });
  }
  return { sketches, counts };
}

/** One look per run at the end; rejection = always-valid p < alpha (what the verdict uses). */
export function simulateCohorts(
  seed: number,
  runs: number,
  run: CohortRun,
  alpha = 0.05,
): { requestLevel: Rejections; deviceLevel: Rejections } {
  const rand = seededRandom(seed);
  const ctx: CompareContext = { alpha, minSamples: 1, previousP: 1 };
  const zero = (): Rejections => ({ latency: 0, accuracy: 0, latencyFaster: 0, accuracyLower: 0 });
  const requestLevel = zero();
  const deviceLevel = zero();
  const m = {
    latencyMde: run.latencyMde ?? COHORT_MODEL.latencyMde,
    accuracyMde: run.accuracyMde ?? COHORT_MODEL.accuracyMde,
  };
  for (let r = 0; r < runs; r++) {
    const A = arm(rand, run, 1, 0);
    const B = arm(rand, run, run.latencyRatio, run.accuracyLogitShift);
    const sum = (cs: ClusterCount[], f: (c: ClusterCount) => number): number =>
      cs.reduce((s, c) => s + f(c), 0);
    const results = {
      requestLevel: [
        compareLatency(
          'latency.e2e',
          mergeSketches(A.sketches),
          mergeSketches(B.sketches),
          m.latencyMde,
          ctx,
        ),
        compareRates(
          'accuracy.feedback',
          'accuracy',
          sum(A.counts, (c) => c.x),
          sum(A.counts, (c) => c.n),
          sum(B.counts, (c) => c.x),
          sum(B.counts, (c) => c.n),
          m.accuracyMde,
          true,
          ctx,
        ),
      ],
      deviceLevel: [
        compareLatencyByDevice('latency.e2e', A.sketches, B.sketches, m.latencyMde, ctx),
        compareRatesByDevice(
          'accuracy.feedback',
          'accuracy',
          A.counts,
          B.counts,
          m.accuracyMde,
          true,
          ctx,
        ),
      ],
    };
    for (const level of ['requestLevel', 'deviceLevel'] as const) {
      const [lat, acc] = results[level];
      const out = level === 'requestLevel' ? requestLevel : deviceLevel;
      if (lat!.alwaysValidP < alpha) {
        out.latency++;
        if (lat!.verdict === 'better') out.latencyFaster++;
      }
      if (acc!.alwaysValidP < alpha) {
        out.accuracy++;
        if (acc!.verdict === 'worse') out.accuracyLower++;
      }
    }
  }
  return { requestLevel, deviceLevel };
}
