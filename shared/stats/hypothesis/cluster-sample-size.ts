// How many devices a cohort experiment needs, and the between-device spread that decides it.
// Cohorts randomise devices, so the device is the unit (clustered.ts): m requests of one device
// count for less than m independent requests. Accuracy: the request-level n of sample-size.ts
// inflated by the design effect deff = 1 + (m - 1) ICC (Donner & Klar, Design and Analysis of
// Cluster Randomization Trials, 2000, 2.3), devices = n deff / m. Latency: one value per device
// (its median), so the two-sample formula runs on device values whose variance is the
// between-device part plus the median's sampling variance. Estimators take per-device data
// grouped by arm (or bundle), so arms that differ in level do not count as device spread.
import type { LatencySketch } from '../sketch.js';
import type { ClusterCount } from './clustered.js';
import { normalCdf, normalQuantile, zTwoSided } from './normal.js';
import { accuracySampleSize, type PowerOptions, type SampleSize } from './sample-size.js';
import { sequentialSampleSize, superiorityMixtureScale } from './sequential.js';

/** deff = 1 + (m - 1) ICC for m requests per device (equal cluster sizes). */
export function designEffect(requestsPerDevice: number, icc: number): number {
  return 1 + (requestsPerDevice - 1) * icc;
}

/** Devices per arm; both counts are devices. */
export interface DeviceSampleSize {
  /** Fixed horizon (one look at the end). */
  readonly fixedPerArm: number;
  /** What the always-valid (mSPRT) verdict needs: any number of looks. */
  readonly sequentialPerArm: number;
}

export interface DeviceAccuracySampleSize extends DeviceSampleSize {
  /** Independent requests per arm (accuracySampleSize). */
  readonly requests: SampleSize;
  readonly designEffect: number;
}

/** ceil, forgiving the rounding error of a product that is an integer in exact arithmetic. */
const ceilCount = (x: number): number => (Number.isFinite(x) ? Math.ceil(x - 1e-9) : Infinity);

/**
 * Accuracy (any proportion) over devices: baseline p, a change of `mde` (absolute), m requests
 * per device per experiment, intra-device correlation `icc`. Devices per arm =
 * ceil(n_requests deff / m), for the fixed and the sequential request counts alike (the
 * cluster-robust variance the analysis feeds into the mSPRT is deff times the binomial one).
 */
export function deviceAccuracySampleSize(
  p: number,
  mde: number,
  shape: { readonly icc: number; readonly requestsPerDevice: number },
  options: PowerOptions = {},
): DeviceAccuracySampleSize {
  const requests = accuracySampleSize(p, mde, options);
  const m = shape.requestsPerDevice;
  const deff = designEffect(m, shape.icc);
  return {
    requests,
    designEffect: deff,
    fixedPerArm: ceilCount((requests.fixedPerArm * deff) / m),
    sequentialPerArm: ceilCount((requests.sequentialPerArm * deff) / m),
  };
}

export interface DeviceLatencyShape {
  /** Mean of the device medians (ms). */
  readonly baselineMs: number;
  /** SD of the true device medians across devices (ms). */
  readonly betweenSdMs: number;
  /** Spread of requests within a device (ms, SD or IQR / 1.349). */
  readonly withinSdMs: number;
  readonly requestsPerDevice: number;
}

export interface DeviceLatencySampleSize extends DeviceSampleSize {
  /** baselineMs * relative mde. */
  readonly shiftMs: number;
  /** SD of one device's observed median: sqrt(between^2 + (pi / 2) within^2 / m). */
  readonly deviceSdMs: number;
  /** Two-sample z formula on device means, 2 (za + zb)^2 sd^2 / shift^2 (reference). */
  readonly meansPerArm: number;
  /** P(B > A) - 1/2 over devices for that shift: the rank test's effect and the mSPRT's tau. */
  readonly effect: number;
}

/**
 * Latency over device medians (the analysis: Mann-Whitney over devices, metrics-by-device.ts).
 * A device's observed median varies by between^2 + (pi / 2) within^2 / m: the sample median's
 * variance 1 / (4 f(median)^2 m) is (pi / 2) sigma^2 / m for normal noise, and for lognormal
 * noise too with sigma = IQR / 1.349 (f at the median is the same). With device values normal
 * with that SD, a shift d gives superiority theta = Phi(d / (sqrt 2 sd)) - 1/2, and Noether's
 * n = (za + zb)^2 / (6 theta^2) devices per arm, the same formula latencySampleSize uses on
 * requests; for small shifts it is the means formula times pi / 3 (the rank test's efficiency
 * on normal data). Sequential: the mSPRT on the superiority with tau = superiorityMixtureScale(theta),
 * as the analysis sets it.
 */
export function deviceLatencySampleSize(
  shape: DeviceLatencyShape,
  mde: number,
  options: PowerOptions = {},
): DeviceLatencySampleSize {
  const alpha = options.alpha ?? 0.05;
  const power = options.power ?? 0.8;
  const z2 = (zTwoSided(alpha) + normalQuantile(power)) ** 2;
  const variance =
    shape.betweenSdMs ** 2 + ((Math.PI / 2) * shape.withinSdMs ** 2) / shape.requestsPerDevice;
  const shiftMs = shape.baselineMs * mde;
  const theta = normalCdf(Math.abs(shiftMs) / Math.sqrt(2 * variance)) - 0.5;
  return {
    shiftMs,
    deviceSdMs: Math.sqrt(variance),
    meansPerArm: ceilCount((2 * z2 * variance) / (shiftMs * shiftMs)),
    effect: theta,
    fixedPerArm: ceilCount(z2 / (6 * theta * theta)),
    sequentialPerArm: sequentialSampleSize(
      theta,
      1 / 6,
      superiorityMixtureScale(theta),
      alpha,
      power,
    ),
  };
}

export interface IccEstimate {
  /** ANOVA estimate, clamped to [0, 1]; NaN without two devices in a group and spare trials. */
  readonly icc: number;
  /** Pooled proportion of the first group (the baseline). */
  readonly baseline: number;
  readonly devices: number;
  readonly requestsPerDevice: number;
}

/**
 * Intra-device correlation of a binary outcome by one-way analysis of variance, pooled within
 * groups (arms or bundles): rho = (MSB - MSW) / (MSB + (m0 - 1) MSW) with
 * MSB = sum n_i (p_i - p_g)^2 / (k - G), MSW = sum n_i p_i (1 - p_i) / (N - k),
 * m0 = (N - sum_g sum n_i^2 / N_g) / (k - G) (Ridout, Demetrio & Firth, Biometrics 1999, the
 * ANOVA estimator they recommend; Donner & Klar 2000, 2.4). Devices without trials are ignored.
 */
export function estimateIcc(groups: readonly (readonly ClusterCount[])[]): IccEstimate {
  const used = groups.map((g) => g.filter((c) => c.n > 0)).filter((g) => g.length > 0);
  const k = used.reduce((s, g) => s + g.length, 0);
  const N = used.reduce((s, g) => s + g.reduce((t, c) => t + c.n, 0), 0);
  let ssb = 0;
  let ssw = 0;
  let sizes = 0;
  for (const g of used) {
    const ng = g.reduce((s, c) => s + c.n, 0);
    const pg = g.reduce((s, c) => s + c.x, 0) / ng;
    for (const c of g) {
      const pi = c.x / c.n;
      ssb += c.n * (pi - pg) ** 2;
      ssw += c.x - (c.x * c.x) / c.n;
      sizes += (c.n * c.n) / ng;
    }
  }
  const first = used[0];
  const baseline = first
    ? first.reduce((s, c) => s + c.x, 0) / first.reduce((s, c) => s + c.n, 0)
    : NaN;
  const dfB = k - used.length;
  const dfW = N - k;
  let icc = NaN;
  if (dfB > 0 && dfW > 0) {
    const msb = ssb / dfB;
    const msw = ssw / dfW;
    const m0 = (N - sizes) / dfB;
    const denominator = msb + (m0 - 1) * msw;
    icc = denominator > 0 ? Math.min(1, Math.max(0, (msb - msw) / denominator)) : 0;
  }
  return { icc, baseline, devices: k, requestsPerDevice: k > 0 ? N / k : NaN };
}

export interface LatencySpreadEstimate extends DeviceLatencyShape {
  readonly devices: number;
}

/**
 * Between- and within-device spread of latency from per-device sketches, grouped by arm or
 * bundle; the first group is the reference (the incumbent). Between: the pooled within-group
 * variance of the device medians minus their average sampling part (pi / 2) w_i^2 / m_i, with
 * w_i a device's IQR / 1.349 (method of moments, floored at 0). Within, baseline (mean device
 * median) and requests per device: the reference group's, on whose scale the plan's shift is.
 * NaN where fewer devices than the estimate needs.
 */
export function estimateLatencySpread(
  groups: readonly (readonly LatencySketch[])[],
): LatencySpreadEstimate {
  const used = groups.map((g) => g.filter((s) => s.count > 0)).filter((g) => g.length > 0);
  const k = used.reduce((s, g) => s + g.length, 0);
  const spread = (s: LatencySketch): number => (s.quantile(0.75) - s.quantile(0.25)) / 1.349;
  let ss = 0;
  let sampling = 0;
  for (const g of used) {
    const medians = g.map((s) => s.quantile(0.5));
    const mean = medians.reduce((s, x) => s + x, 0) / medians.length;
    ss += medians.reduce((s, x) => s + (x - mean) ** 2, 0);
    for (const s of g) sampling += ((Math.PI / 2) * spread(s) ** 2) / s.count;
  }
  const ref = used[0] ?? [];
  const mean = (f: (s: LatencySketch) => number): number =>
    ref.length > 0 ? ref.reduce((s, x) => s + f(x), 0) / ref.length : NaN;
  const dfB = k - used.length;
  return {
    devices: k,
    baselineMs: mean((s) => s.quantile(0.5)),
    betweenSdMs: dfB > 0 ? Math.sqrt(Math.max(0, ss / dfB - sampling / k)) : NaN,
    withinSdMs: Math.sqrt(mean((s) => spread(s) ** 2)),
    requestsPerDevice: mean((s) => s.count),
  };
}
