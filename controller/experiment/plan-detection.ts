// Sizing the two descriptive detection rows for `experiment plan`, for the statistics the report
// runs on them (detection.ts). Pure.
//
// Agreement (matched-box F1 over shadowed images): the report shows F1 - 1 with the mSPRT
// confidence sequence est -+ c(V) sqrt(V), tau = the accuracy MDE (sequential.ts; Johari et al.,
// "Always Valid Inference", Operations Research 2022), V the linearised variance of a ratio over
// images (ratio.ts; Cochran, Sampling Techniques, 6.13), V = s^2 / n with s the per-image SD of
// (x_i - F1 n_i) / mean(n). Shadowed images n: the smallest n with c(s^2/n) s / sqrt(n) <= margin;
// fixed horizon for reference: n = ceil(z_{1-alpha/2}^2 s^2 / margin^2). Requests = n / share.
//
// Detections per image: B's mean minus A's, a two-sample difference of means with per-image SD
// sigma: fixed n = ceil(2 (z_{1-alpha/2} + z_power)^2 sigma^2 / delta^2), delta = mde x baseline;
// always-valid n from sequentialSampleSize with tau = max(0.05, BOXES_PER_IMAGE_MDE x baseline),
// the report's mixture scale. Devices per arm, when requests per device and an ICC are given:
// the design effect 1 + (m - 1) ICC on the per-image variance, ceil(n deff / m).
import { designEffect } from '../../shared/stats/hypothesis/cluster-sample-size.js';
import { normalQuantile } from '../../shared/stats/hypothesis/normal.js';
import {
  sequentialBoundaryZ,
  sequentialSampleSize,
} from '../../shared/stats/hypothesis/sequential.js';
import { BOXES_PER_IMAGE_MDE } from './detection.js';

export interface AgreementSize {
  /** Shadowed images: always-valid (the report's interval) and fixed-horizon (reference). */
  readonly images: { readonly fixed: number; readonly sequential: number };
  /** Requests to serve so that `images` are shadowed. */
  readonly requests: { readonly fixed: number; readonly sequential: number };
  /** Hours at the given request rate, when one was given. */
  readonly hours?: { readonly fixed: number; readonly sequential: number };
}

function halfWidth(n: number, s2: number, tau: number, alpha: number): number {
  const v = s2 / n;
  return sequentialBoundaryZ(v, tau, alpha) * Math.sqrt(v);
}

/** Smallest n with the confidence sequence's half-width at most `margin` (monotone in n). */
export function agreementImages(sd: number, margin: number, alpha: number): number {
  const s2 = sd * sd;
  if (!(s2 > 0)) return 2;
  let hi = 2;
  while (halfWidth(hi, s2, margin, alpha) > margin) {
    hi *= 2;
    if (hi > 1e12) return Infinity;
  }
  let lo = hi / 2;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (halfWidth(mid, s2, margin, alpha) <= margin) hi = mid;
    else lo = mid;
  }
  return Math.max(2, hi);
}

export function agreementSampleSize(
  sd: number,
  margin: number,
  alpha: number,
  shadowShare: number,
  requestsPerSecond: number | undefined,
): AgreementSize {
  const z = normalQuantile(1 - alpha / 2);
  const images = {
    fixed: Math.max(2, Math.ceil((z * z * sd * sd) / (margin * margin))),
    sequential: agreementImages(sd, margin, alpha),
  };
  const requests = {
    fixed: Math.ceil(images.fixed / shadowShare),
    sequential: Math.ceil(images.sequential / shadowShare),
  };
  const hours =
    requestsPerSecond !== undefined
      ? {
          fixed: requests.fixed / requestsPerSecond / 3600,
          sequential: requests.sequential / requestsPerSecond / 3600,
        }
      : undefined;
  return { images, requests, ...(hours ? { hours } : {}) };
}

export interface BoxesPerImageSize {
  readonly shift: number;
  readonly imagesPerArm: { readonly fixed: number; readonly sequential: number };
  readonly designEffect?: number;
  readonly devicesPerArm?: { readonly fixed: number; readonly sequential: number };
}

export function boxesPerImageSampleSize(
  baseline: number,
  sd: number,
  mde: number,
  alpha: number,
  power: number,
  devices?: { readonly requestsPerDevice: number; readonly icc: number },
): BoxesPerImageSize {
  const shift = mde * baseline;
  const tau = Math.max(0.05, BOXES_PER_IMAGE_MDE * baseline);
  const zz = normalQuantile(1 - alpha / 2) + normalQuantile(power);
  const s2 = 2 * sd * sd;
  const imagesPerArm = {
    fixed: Math.max(2, Math.ceil((zz * zz * s2) / (shift * shift))),
    sequential: Math.max(2, sequentialSampleSize(shift, s2, tau, alpha, power)),
  };
  if (!devices) return { shift, imagesPerArm };
  const m = devices.requestsPerDevice;
  const deff = designEffect(m, devices.icc);
  const per = (n: number): number => Math.max(2, Math.ceil((n * deff) / m));
  return {
    shift,
    imagesPerArm,
    designEffect: deff,
    devicesPerArm: {
      fixed: per(imagesPerArm.fixed),
      sequential: Math.max(2, sequentialSampleSize(shift, (s2 * deff) / m, tau, alpha, power)),
    },
  };
}
