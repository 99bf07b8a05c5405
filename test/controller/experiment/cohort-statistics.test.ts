import t from 'tap';
import { COHORT_MODEL, simulateCohorts } from './cohort-simulate.js';
import {
  compareLatencyByDevice,
  MIN_DEVICES_FOR_VERDICT,
} from '../../../controller/experiment/metrics-by-device.js';
import { LatencySketch } from '../../../shared/stats/sketch.js';

const RUNS = 200;
// The experiment is sized for a 20 % latency change and a 7.5 pt accuracy change (the mSPRT's
// tau), which is what INT8 against FP32 is about; A/A and power runs use the same design.
const design = { requestsPerDevice: 100, latencyMde: 0.2, accuracyMde: 0.075 };

t.test(
  'cohort A/A with between-device variance: request-level inflated, device-level valid',
  async (t) => {
    const r = simulateCohorts(13, RUNS, {
      ...design,
      devicesPerArm: 30,
      latencyRatio: 1,
      accuracyLogitShift: 0,
    });
    const rate = (n: number): number => n / RUNS;
    t.comment(`model ${JSON.stringify(COHORT_MODEL)}, ${RUNS} runs, 30 devices per arm`);
    t.comment(`request-level false positives ${JSON.stringify(r.requestLevel)}`);
    t.comment(`device-level false positives ${JSON.stringify(r.deviceLevel)}`);
    t.ok(
      rate(r.requestLevel.latency) > 0.1,
      `old latency test: ${rate(r.requestLevel.latency)} > 0.10`,
    );
    t.ok(
      rate(r.requestLevel.accuracy) > 0.1,
      `old accuracy test: ${rate(r.requestLevel.accuracy)} > 0.10`,
    );
    t.ok(
      rate(r.deviceLevel.latency) <= 0.05,
      `device latency: ${rate(r.deviceLevel.latency)} <= 0.05`,
    );
    t.ok(
      rate(r.deviceLevel.accuracy) <= 0.05,
      `device accuracy: ${rate(r.deviceLevel.accuracy)} <= 0.05`,
    );
  },
);

t.test('cohort power: a real shift is found with enough devices', async (t) => {
  const runs = 100;
  const lat = simulateCohorts(14, runs, {
    ...design,
    devicesPerArm: 40,
    latencyRatio: 0.8,
    accuracyLogitShift: 0,
  });
  t.comment(`B 20 % faster, 40 devices per arm: ${JSON.stringify(lat.deviceLevel)}`);
  t.ok(
    lat.deviceLevel.latencyFaster / runs >= 0.8,
    `latency power ${lat.deviceLevel.latencyFaster / runs}`,
  );
  const acc = simulateCohorts(15, runs, {
    ...design,
    devicesPerArm: 80,
    latencyRatio: 1,
    accuracyLogitShift: -0.5,
  });
  t.comment(`B ~7.5 pt less accurate, 80 devices per arm: ${JSON.stringify(acc.deviceLevel)}`);
  t.ok(
    acc.deviceLevel.accuracyLower / runs >= 0.8,
    `accuracy power ${acc.deviceLevel.accuracyLower / runs}`,
  );
});

t.test('fewer than the minimum devices per arm: not enough data', async (t) => {
  const arm = (ms: number, k: number): LatencySketch[] =>
    Array.from({ length: k }, () => {
      const s = new LatencySketch();
      for (let i = 0; i < 500; i++) s.add(ms * (1 + i / 5000));
      return s;
    });
  const ctx = { alpha: 0.05, minSamples: 1, previousP: 1 };
  const few = compareLatencyByDevice(
    'latency.e2e',
    arm(5, 20),
    arm(2, MIN_DEVICES_FOR_VERDICT - 1),
    0.05,
    ctx,
  );
  t.equal(few.verdict, 'not_enough_data', 'a huge shift, but too few devices in B');
  const enough = compareLatencyByDevice('latency.e2e', arm(5, 20), arm(2, 20), 0.05, ctx);
  t.equal(enough.verdict, 'better');
  t.same(enough.devices, { A: 20, B: 20 });
  t.ok(enough.effect.high < 0 && enough.quantiles!.every((q) => q.high < 0));
});
