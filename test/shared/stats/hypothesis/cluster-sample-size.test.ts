import t from 'tap';
import { LatencySketch } from '../../../../shared/stats/sketch.js';
import {
  designEffect,
  deviceAccuracySampleSize,
  deviceLatencySampleSize,
  estimateIcc,
  estimateLatencySpread,
  sequentialPowerAt,
} from '../../../../shared/stats/hypothesis/index.js';

// Constants of the hand arithmetic below (alpha 0.05 two-sided, power 0.8):
//   za = 1.959964, zb = 0.841621, (za + zb)^2 = 2.801585^2 = 7.848880.
// Independent requests per arm for 76 % -> 75 % (Fleiss, no continuity correction):
//   pbar = 0.755, sqrt(2 x 0.755 x 0.245) = 0.608235, sqrt(0.76 x 0.24 + 0.75 x 0.25) = 0.608194
//   n = (1.959964 x 0.608235 + 0.841621 x 0.608194)^2 / 0.01^2 = 1.703987^2 / 1e-4 = 29035.75
//   -> 29036. The always-valid count, 56265, is sequentialSampleSize's (tested in
//   sequential.test.ts); the device counts below only divide it.
// For 90 % -> 88 %: sqrt(2 x 0.89 x 0.11) = 0.442493, sqrt(0.09 + 0.88 x 0.12) = 0.442267,
//   n = (0.867270 + 0.372221)^2 / 0.02^2 = 1.536338 / 4e-4 = 3840.85 -> 3841 (sequential 7438).
const accuracyCases = [
  {
    why: 'the headline case: 500 requests per device, ICC 0.02',
    p: 0.76,
    mde: 0.01,
    icc: 0.02,
    m: 500,
    // deff = 1 + 499 x 0.02 = 10.98
    // fixed: 29036 x 10.98 / 500 = 318815.28 / 500 = 637.63 -> 638
    // sequential: 56265 x 10.98 / 500 = 617789.70 / 500 = 1235.58 -> 1236
    deff: 10.98,
    requests: [29036, 56265],
    devices: [638, 1236],
  },
  {
    why: 'fewer requests per device, weaker correlation',
    p: 0.76,
    mde: 0.01,
    icc: 0.01,
    m: 200,
    // deff = 1 + 199 x 0.01 = 2.99
    // fixed: 29036 x 2.99 / 200 = 86817.64 / 200 = 434.09 -> 435
    // sequential: 56265 x 2.99 / 200 = 168232.35 / 200 = 841.16 -> 842
    deff: 2.99,
    requests: [29036, 56265],
    devices: [435, 842],
  },
  {
    why: 'ICC 0: devices are just bags of independent requests',
    p: 0.76,
    mde: 0.01,
    icc: 0,
    m: 500,
    // deff = 1; 29036 / 500 = 58.07 -> 59; 56265 / 500 = 112.53 -> 113
    deff: 1,
    requests: [29036, 56265],
    devices: [59, 113],
  },
  {
    why: 'one request per device: a device is a request (deff 1 whatever the ICC)',
    p: 0.76,
    mde: 0.01,
    icc: 0.3,
    m: 1,
    // deff = 1 + 0 x 0.3 = 1; 29036 x 1 / 1 = 29036 exactly (no rounding up to 29037)
    deff: 1,
    requests: [29036, 56265],
    devices: [29036, 56265],
  },
  {
    why: 'strong correlation: more requests per device barely help',
    p: 0.76,
    mde: 0.01,
    icc: 0.05,
    m: 100,
    // deff = 1 + 99 x 0.05 = 5.95
    // fixed: 29036 x 5.95 / 100 = 172764.20 / 100 = 1727.64 -> 1728
    // sequential: 56265 x 5.95 / 100 = 334776.75 / 100 = 3347.77 -> 3348
    deff: 5.95,
    requests: [29036, 56265],
    devices: [1728, 3348],
  },
  {
    why: 'a 2-point change at 90 % (the default accuracy MDE)',
    p: 0.9,
    mde: 0.02,
    icc: 0.03,
    m: 300,
    // deff = 1 + 299 x 0.03 = 9.97
    // fixed: 3841 x 9.97 / 300 = 38294.77 / 300 = 127.65 -> 128
    // sequential: 7438 x 9.97 / 300 = 74156.86 / 300 = 247.19 -> 248
    deff: 9.97,
    requests: [3841, 7438],
    devices: [128, 248],
  },
];

t.test('accuracy: devices per arm = ceil(n_requests x deff / m)', async (t) => {
  for (const c of accuracyCases) {
    const s = deviceAccuracySampleSize(c.p, c.mde, { icc: c.icc, requestsPerDevice: c.m });
    t.equal(Number(s.designEffect.toFixed(10)), c.deff, `${c.why}: deff`);
    t.same([s.requests.fixedPerArm, s.requests.sequentialPerArm], c.requests, `${c.why}: requests`);
    t.same([s.fixedPerArm, s.sequentialPerArm], c.devices, `${c.why}: devices`);
    // The device count is the smallest that reaches the power for the always-valid test: the
    // estimate's variance is (p1 q1 + p2 q2) deff / (m k) with k devices per arm.
    const s2 = ((c.p * (1 - c.p) + (c.p - c.mde) * (1 - c.p + c.mde)) * s.designEffect) / c.m;
    const k = s.sequentialPerArm;
    t.ok(sequentialPowerAt(k, c.mde, s2, c.mde, 0.05) >= 0.8, `${c.why}: power at ${k}`);
    t.ok(sequentialPowerAt(k - 1, c.mde, s2, c.mde, 0.05) < 0.8, `${c.why}: not at ${k - 1}`);
  }
  t.equal(designEffect(500, 0.02), 1 + 499 * 0.02);
});

// Latency over device medians. var = between^2 + (pi / 2) within^2 / m; shift = baseline x mde;
// means = 2 (za + zb)^2 var / shift^2; theta = Phi(shift / sqrt(2 var)) - 1/2;
// rank test (Noether) = (za + zb)^2 / (6 theta^2).
const latencyCases = [
  {
    why: 'realistic board fleet: 12 ms, boards differ by 1.5 ms, requests spread 4 ms, m 500',
    shape: { baselineMs: 12, betweenSdMs: 1.5, withinSdMs: 4, requestsPerDevice: 500 },
    mde: 0.05,
    // var = 2.25 + 1.570796 x 16 / 500 = 2.25 + 0.050265 = 2.300265, sd 1.516663; shift 0.6
    // means: 2 x 7.848880 x 2.300265 / 0.36 = 36.108986 / 0.36 = 100.30 -> 101
    // theta = Phi(0.6 / sqrt(4.600531)) - 0.5 = Phi(0.279735) - 0.5 = 0.610160 - 0.5 = 0.110160
    // rank: 7.848880 / (6 x 0.110160^2) = 7.848880 / 0.072811 = 107.80 -> 108
    deviceSdMs: 1.516663,
    theta: 0.11016,
    means: 101,
    fixed: 108,
  },
  {
    why: 'no request noise: only boards differ',
    shape: { baselineMs: 10, betweenSdMs: 1, withinSdMs: 0, requestsPerDevice: 100 },
    mde: 0.1,
    // var = 1, shift 1; means: 2 x 7.848880 x 1 / 1 = 15.70 -> 16
    // theta = Phi(1 / sqrt 2) - 0.5 = Phi(0.707107) - 0.5 = 0.760250 - 0.5 = 0.260250
    // rank: 7.848880 / (6 x 0.067730) = 7.848880 / 0.406380 = 19.31 -> 20
    deviceSdMs: 1,
    theta: 0.26025,
    means: 16,
    fixed: 20,
  },
  {
    why: 'identical boards: only the median of 50 requests varies',
    shape: { baselineMs: 20, betweenSdMs: 0, withinSdMs: 5, requestsPerDevice: 50 },
    mde: 0.05,
    // var = 1.570796 x 25 / 50 = 0.785398, sd 0.886227; shift 1
    // means: 2 x 7.848880 x 0.785398 / 1 = 12.33 -> 13
    // theta = Phi(1 / sqrt(1.570796)) - 0.5 = Phi(0.797885) - 0.5 = 0.787531 - 0.5 = 0.287531
    // rank: 7.848880 / (6 x 0.082674) = 7.848880 / 0.496043 = 15.82 -> 16
    deviceSdMs: 0.886227,
    theta: 0.287531,
    means: 13,
    fixed: 16,
  },
];

t.test('latency: two-sample formula on device medians', async (t) => {
  for (const c of latencyCases) {
    const s = deviceLatencySampleSize(c.shape, c.mde);
    t.ok(Math.abs(s.deviceSdMs - c.deviceSdMs) < 1e-6, `${c.why}: sd ${s.deviceSdMs}`);
    t.ok(Math.abs(s.effect - c.theta) < 1e-5, `${c.why}: theta ${s.effect}`);
    t.equal(s.meansPerArm, c.means, `${c.why}: means formula`);
    t.equal(s.fixedPerArm, c.fixed, `${c.why}: rank test`);
    // Rank test on normal data: the means formula times pi / 3 for small shifts.
    t.ok(s.fixedPerArm >= s.meansPerArm && s.fixedPerArm <= Math.ceil(s.meansPerArm * 1.3));
    // Always-valid: Var(superiority) = (1/6) / k per arm, tau = max(0.05, theta).
    const tau = Math.max(0.05, s.effect);
    const k = s.sequentialPerArm;
    t.ok(sequentialPowerAt(k, s.effect, 1 / 6, tau, 0.05) >= 0.8, `${c.why}: power at ${k}`);
    t.ok(sequentialPowerAt(k - 1, s.effect, 1 / 6, tau, 0.05) < 0.8, `${c.why}: not at ${k - 1}`);
  }
  const tighter = deviceLatencySampleSize({ ...latencyCases[0]!.shape, betweenSdMs: 0.75 }, 0.05);
  t.ok(tighter.fixedPerArm < 108 / 3, `halving the board spread: ${tighter.fixedPerArm} devices`);
});

t.test('ICC by analysis of variance, pooled within groups', async (t) => {
  // One group, devices (x, n) = (2, 10), (5, 10), (8, 10): p = 15 / 30 = 0.5
  //   MSB = 10 x (0.3^2 + 0 + 0.3^2) / (3 - 1) = 1.8 / 2 = 0.9
  //   MSW = 10 x (0.16 + 0.25 + 0.16) / (30 - 3) = 5.7 / 27 = 0.211111
  //   m0 = (30 - 300 / 30) / 2 = 10
  //   rho = (0.9 - 0.211111) / (0.9 + 9 x 0.211111) = 0.688889 / 2.8 = 0.246032
  const one = estimateIcc([
    [
      { x: 2, n: 10 },
      { x: 5, n: 10 },
      { x: 8, n: 10 },
    ],
  ]);
  t.ok(Math.abs(one.icc - 0.246032) < 1e-6, `rho ${one.icc}`);
  t.same([one.baseline, one.devices, one.requestsPerDevice], [0.5, 3, 10]);

  // Every device all right or all wrong, unequal sizes: (0, 4), (6, 6). MSW = 0, MSB > 0: rho 1.
  t.equal(
    estimateIcc([
      [
        { x: 0, n: 4 },
        { x: 6, n: 6 },
      ],
    ]).icc,
    1,
  );

  // Two arms at different levels, devices alike within each: the arms' gap is not device
  // spread. Pooled as one group it would look like a strong correlation.
  const a = [
    { x: 5, n: 10 },
    { x: 5, n: 10 },
  ];
  const b = [
    { x: 8, n: 10 },
    { x: 8, n: 10 },
  ];
  const grouped = estimateIcc([a, b]);
  t.equal(grouped.icc, 0, 'within-arm spread only');
  t.equal(grouped.baseline, 0.5, "the first group's proportion");
  // As one group: p = 26 / 40 = 0.65, MSB = 10 x 4 x 0.15^2 / 3 = 0.3,
  // MSW = 10 x (2 x 0.25 + 2 x 0.16) / 36 = 0.227778, m0 = 10,
  // rho = 0.072222 / (0.3 + 9 x 0.227778) = 0.072222 / 2.35 = 0.030733.
  const pooled = estimateIcc([[...a, ...b]]).icc;
  t.ok(Math.abs(pooled - 0.030733) < 1e-6, `pooled without groups: spurious ${pooled}`);

  // Too little to estimate from: one device per group, or no trials.
  t.ok(Number.isNaN(estimateIcc([[{ x: 3, n: 10 }], [{ x: 4, n: 10 }]]).icc));
  t.ok(Number.isNaN(estimateIcc([[{ x: 0, n: 0 }]]).icc));
});

t.test('latency spread from per-device sketches', async (t) => {
  // Three devices with identical requests 1..100 ms: medians equal, so no between-device
  // spread; within = IQR / 1.349 = (75 - 25) / 1.349 = 37.07 (sketch values within 0.5 %, so
  // the checks allow 1-2 %).
  const sketch = (shift: number): LatencySketch => {
    const s = new LatencySketch();
    for (let v = 1; v <= 100; v++) s.add(v + shift);
    return s;
  };
  const same = estimateLatencySpread([[sketch(0), sketch(0), sketch(0)]]);
  t.equal(same.betweenSdMs, 0);
  t.ok(Math.abs(same.withinSdMs - 37.07) / 37.07 < 0.01, `within ${same.withinSdMs}`);
  t.same([same.devices, same.requestsPerDevice], [3, 100]);
  t.ok(Math.abs(same.baselineMs - 50) / 50 < 0.01, `baseline ${same.baselineMs}`);

  // Devices 0, 40 and 80 ms apart in one group: medians ~50, 90, 130, sample SD 40, minus the
  // sampling part (pi / 2) 37.07^2 / 100 = 21.59: between = sqrt(1600 - 21.59) = 39.73.
  const spread = estimateLatencySpread([[sketch(0), sketch(40), sketch(80)]]);
  t.ok(Math.abs(spread.betweenSdMs - 39.73) / 39.73 < 0.02, `between ${spread.betweenSdMs}`);
  // The same 80 ms as the gap between two groups is not device spread.
  const arms = estimateLatencySpread([
    [sketch(0), sketch(0)],
    [sketch(80), sketch(80)],
  ]);
  t.equal(arms.betweenSdMs, 0);
  t.ok(Number.isNaN(estimateLatencySpread([[sketch(0)]]).betweenSdMs), 'one device: unknown');
});
