// Sequential validity: the mixture sequential probability ratio test (mSPRT) of Johari, Koomen,
// Pekelis & Walsh, "Always Valid Inference: Continuous Monitoring of A/B Tests" (Operations
// Research 2022), on the normal approximation of each metric's estimate.
//
// Why mSPRT and not alpha spending: operators open the report whenever they like (CLI, HTTP,
// the demo, promote checks), so the number and timing of looks is not planned. An always-valid
// p-value stays valid at any stopping time and under any number of looks; Lan-DeMets spending
// needs the information fraction of each look fixed in advance. The price is power: at a fixed n
// the mSPRT boundary is wider than 1.96, which the sample-size functions account for
// (sequentialSampleSize).
//
// Model: the estimate is approximately N(theta, V); H0 theta = 0; the mixture over alternatives
// is N(0, tau^2). The likelihood ratio is
//   Lambda = sqrt(V / (V + tau^2)) * exp(est^2 tau^2 / (2 V (V + tau^2)))
// and the always-valid p-value is the running minimum of 1 / Lambda. Inverting Lambda < 1/alpha
// gives the confidence sequence est -+ sqrt(V) c(V) with
//   c(V) = sqrt((V + tau^2) / tau^2 * (2 ln(1/alpha) + ln((V + tau^2) / V))).
// tau is set to the effect the experiment is meant to detect (the minimum detectable effect),
// the choice that makes the test most powerful near that effect (Johari et al., section 4.3).
import { normalCdf } from './normal.js';

/**
 * The floor of tau for rank tests on the superiority P(B > A) - 1/2 (latency, over requests or
 * over devices). Tau equal to a tiny design effect (a wide latency spread against a small MDE)
 * makes the mixture nearly a point mass at 0: Lambda stays near 1 at the sample sizes a fleet
 * reaches, so even a large regression would not be flagged for a long time. 0.05 superiority is
 * a small effect on that scale (a shift of about 0.18 SD of normal data).
 */
export const MIN_SUPERIORITY_TAU = 0.05;

/**
 * Tau of the mSPRT on a superiority, for a design effect `theta` (the superiority the latency
 * MDE would give): |theta|, at least MIN_SUPERIORITY_TAU. One rule for requests and devices, and
 * for the sample sizes that promise the test's power.
 */
export function superiorityMixtureScale(theta: number): number {
  return Number.isFinite(theta)
    ? Math.max(MIN_SUPERIORITY_TAU, Math.abs(theta))
    : MIN_SUPERIORITY_TAU;
}

export interface SequentialLook {
  readonly estimate: number;
  readonly variance: number;
}

export function mixtureLikelihoodRatio(look: SequentialLook, tau: number): number {
  const v = look.variance;
  const t2 = tau * tau;
  if (!(v > 0) || !(t2 > 0)) return 1;
  return Math.sqrt(v / (v + t2)) * Math.exp((look.estimate ** 2 * t2) / (2 * v * (v + t2)));
}

/** Always-valid p-value after this look, given the one after the previous look (1 at start). */
export function alwaysValidP(previous: number, look: SequentialLook, tau: number): number {
  return Math.min(previous, 1, 1 / mixtureLikelihoodRatio(look, tau));
}

/** The boundary in standard-error units: reject when |estimate| / sqrt(V) >= c. */
export function sequentialBoundaryZ(variance: number, tau: number, alpha: number): number {
  const t2 = tau * tau;
  if (!(variance > 0)) return Infinity;
  return Math.sqrt(
    ((variance + t2) / t2) * (2 * Math.log(1 / alpha) + Math.log((variance + t2) / variance)),
  );
}

export interface ConfidenceSequence {
  readonly estimate: number;
  readonly low: number;
  readonly high: number;
  /** The multiplier used (compare 1.96 for a fixed-horizon 95 % interval). */
  readonly z: number;
}

export function confidenceSequence(
  look: SequentialLook,
  tau: number,
  alpha: number,
): ConfidenceSequence {
  const z = sequentialBoundaryZ(look.variance, tau, alpha);
  const half = z * Math.sqrt(look.variance);
  return { estimate: look.estimate, low: look.estimate - half, high: look.estimate + half, z };
}

/** Probability that the boundary is crossed at n when the true effect is theta (V = s2 / n). */
export function sequentialPowerAt(
  n: number,
  theta: number,
  s2: number,
  tau: number,
  alpha: number,
): number {
  const v = s2 / n;
  const c = sequentialBoundaryZ(v, tau, alpha);
  const drift = Math.abs(theta) / Math.sqrt(v);
  return normalCdf(drift - c) + normalCdf(-drift - c);
}

/**
 * Smallest n per arm at which the mSPRT rejects with probability >= power when the last look is
 * at n (earlier looks only add rejections, so this is conservative). s2 is the per-arm variance
 * factor: Var(estimate) = s2 / n.
 */
export function sequentialSampleSize(
  theta: number,
  s2: number,
  tau: number,
  alpha: number,
  power: number,
): number {
  if (!(Math.abs(theta) > 0) || !(s2 > 0)) return Infinity;
  let hi = 2;
  while (sequentialPowerAt(hi, theta, s2, tau, alpha) < power) {
    hi *= 2;
    if (hi > 1e12) return Infinity;
  }
  let lo = hi / 2;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (sequentialPowerAt(mid, theta, s2, tau, alpha) >= power) hi = mid;
    else lo = mid;
  }
  return hi;
}
