// Sample size per arm for each kind of comparison, fixed-horizon (the textbook formulas) and
// sequential (what the mSPRT of sequential.ts needs; the number the experiment tool uses).
import type { Bins } from './binned.js';
import { mapBins } from './binned.js';
import { mannWhitney } from './mann-whitney.js';
import { normalQuantile, zTwoSided } from './normal.js';
import { sequentialSampleSize, superiorityMixtureScale } from './sequential.js';

export interface PowerOptions {
  /** Two-sided significance level (default 0.05). */
  readonly alpha?: number;
  /** Default 0.8. */
  readonly power?: number;
}

export interface SampleSize {
  /** Fixed-horizon n per arm (one look at the end). */
  readonly fixedPerArm: number;
  /** n per arm for the always-valid (mSPRT) test with tau = the effect. */
  readonly sequentialPerArm: number;
  /** The effect on the scale the test runs on (proportion difference or superiority). */
  readonly effect: number;
}

function zs(o: PowerOptions): { za: number; zb: number; alpha: number; power: number } {
  const alpha = o.alpha ?? 0.05;
  const power = o.power ?? 0.8;
  return { za: zTwoSided(alpha), zb: normalQuantile(power), alpha, power };
}

/**
 * Unpaired accuracy: baseline p, a drop (or rise) of `mde` (absolute, e.g. 0.01 = 1 point).
 * Fixed: Fleiss, Statistical Methods for Rates and Proportions (3rd ed., 4.2) without continuity
 * correction, n = (za sqrt(2 pbar qbar) + zb sqrt(p1 q1 + p2 q2))^2 / delta^2.
 */
export function accuracySampleSize(p: number, mde: number, options: PowerOptions = {}): SampleSize {
  const { za, zb, alpha, power } = zs(options);
  const p1 = p;
  const p2 = p - mde;
  const pbar = (p1 + p2) / 2;
  const s2 = p1 * (1 - p1) + p2 * (1 - p2);
  const fixed = (za * Math.sqrt(2 * pbar * (1 - pbar)) + zb * Math.sqrt(s2)) ** 2 / (mde * mde);
  return {
    fixedPerArm: Math.ceil(fixed),
    sequentialPerArm: sequentialSampleSize(mde, s2, Math.abs(mde), alpha, power),
    effect: mde,
  };
}

/**
 * Paired (shadow) accuracy: `discordant` is the expected share of pairs where exactly one model
 * is right, `mde` the accuracy difference. Fixed: Connor (Biometrics 1987),
 * n = (za sqrt(psi) + zb sqrt(psi - delta^2))^2 / delta^2 pairs.
 */
export function pairedAccuracySampleSize(
  discordant: number,
  mde: number,
  options: PowerOptions = {},
): SampleSize {
  const { za, zb, alpha, power } = zs(options);
  const psi = Math.max(discordant, Math.abs(mde));
  const fixed = (za * Math.sqrt(psi) + zb * Math.sqrt(psi - mde * mde)) ** 2 / (mde * mde);
  return {
    fixedPerArm: Math.ceil(fixed),
    sequentialPerArm: sequentialSampleSize(mde, psi - mde * mde, Math.abs(mde), alpha, power),
    effect: mde,
  };
}

/**
 * Latency: baseline distribution (bins of a pilot sketch) and a shift B = f(A) (e.g. v -> 1.05 v
 * for "5 % slower"). The effect is the probability of superiority minus 1/2, computed exactly on
 * the bins; n per arm by Noether (JASA 1987) for equal arms, n = (za + zb)^2 / (6 theta^2). This
 * is the rank test's efficiency made concrete for the observed (skewed) latency shape rather
 * than the 3/pi of normal data.
 */
export function latencySampleSize(
  baseline: Bins,
  shifted: (v: number) => number,
  options: PowerOptions = {},
): SampleSize {
  const { za, zb, alpha, power } = zs(options);
  const theta = mannWhitney(baseline, mapBins(baseline, shifted)).superiority;
  const fixed = (za + zb) ** 2 / (6 * theta * theta);
  return {
    fixedPerArm: Math.ceil(fixed),
    // Var(U / (nA nB)) = (2n + 1) / (12 n^2) ~ (1/6) / n per arm under H0.
    sequentialPerArm: sequentialSampleSize(
      theta,
      1 / 6,
      superiorityMixtureScale(theta),
      alpha,
      power,
    ),
    effect: theta,
  };
}
