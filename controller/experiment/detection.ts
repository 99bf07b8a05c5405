// Detection metrics of an experiment arm (issue 11): precision and recall at IoU 0.5 from box
// feedback (the agent matches each answer's boxes to the ground truth a user sends to
// /v1/feedback; telemetry sums TP, FP and FN per variant). Both are proportions over boxes, so
// they go through the same tests as accuracy: per request for traffic split, per device for
// cohorts. Post-processing latency (decode + NMS) is the `postprocess` stage, added to the
// compared stages whenever an arm has detection data. Pure.
import {
  alwaysValidP,
  clusteredRatio,
  confidenceSequence,
  ratioSums,
  twoSidedP,
  type RatioSums,
} from '../../shared/stats/hypothesis/index.js';
import type { TelemetrySummary } from '../telemetry/summary.js';
import { MIN_DEVICES_FOR_VERDICT } from './metrics-by-device.js';
import { decide, MIN_SAMPLES_FOR_VERDICT, notEnough } from './metrics.js';
import type { CompareContext, MetricResult } from './metrics.js';

export interface DetectionRate {
  readonly key: 'detection.precision' | 'detection.recall';
  readonly label: string;
  /** Successes and trials of one summary (boxes), zero when it has no box feedback. */
  readonly of: (s: TelemetrySummary) => { readonly x: number; readonly n: number };
}

const matches = (s: TelemetrySummary) =>
  s.accuracy.detection ?? { feedback: 0, tp: 0, fp: 0, fn: 0 };

export const DETECTION_RATES: readonly DetectionRate[] = [
  {
    key: 'detection.precision',
    label: 'precision @IoU 0.5 (box feedback)',
    of: (s) => {
      const d = matches(s);
      return { x: d.tp, n: d.tp + d.fp };
    },
  },
  {
    key: 'detection.recall',
    label: 'recall @IoU 0.5 (box feedback)',
    of: (s) => {
      const d = matches(s);
      return { x: d.tp, n: d.tp + d.fn };
    },
  },
];

export function hasDetection(summaries: readonly TelemetrySummary[]): boolean {
  return summaries.some((s) => (s.accuracy.detection?.feedback ?? 0) > 0);
}

/** The stages to compare: the spec's, plus `postprocess` for detectors. */
export function stagesFor(
  stages: readonly string[] | undefined,
  detection: boolean,
): readonly string[] {
  const base = stages ?? ['e2e'];
  return detection && !base.includes('postprocess') ? [...base, 'postprocess'] : base;
}

/**
 * Accuracy-like metrics (higher is better, bounded by the accuracy guardrail): class and box.
 * The descriptive detection rows (boxes per image, A-vs-B agreement) are not.
 */
export function isAccuracyKey(key: string): boolean {
  return key.startsWith('accuracy.') || DETECTION_RATES.some((r) => r.key === key);
}

/**
 * Detections per image (every answer, feedback or not): B's mean minus A's, as a clustered
 * ratio (clusteredRatio): images are the clusters per request, devices for cohorts. Descriptive:
 * more or fewer boxes is neither better nor worse by itself, so the row says whether B differs
 * and never decides the experiment. The sequential test's mixture scale is this share of A's
 * mean (at least 0.05 boxes).
 */
export const BOXES_PER_IMAGE_MDE = 0.1;

/** Images as clusters: x_i = boxes of image i, n_i = 1. */
export function boxesPerImageSums(s: TelemetrySummary): RatioSums {
  const d = s.accuracy.detectionOutput;
  if (!d) return { clusters: 0, x: 0, n: 0, xx: 0, xn: 0, nn: 0 };
  return { clusters: d.images, x: d.boxes, n: d.images, xx: d.boxesSq, xn: d.boxes, nn: d.images };
}

/** Devices as clusters: x_i = the device's boxes, n_i = its images. */
export function boxesPerImageByDevice(devices: readonly TelemetrySummary[]): RatioSums {
  return ratioSums(
    devices.flatMap((s) => {
      const d = s.accuracy.detectionOutput;
      return d && d.images > 0 ? [{ x: d.boxes, n: d.images }] : [];
    }),
  );
}

export function hasDetectionOutput(summaries: readonly TelemetrySummary[]): boolean {
  return summaries.some((s) => (s.accuracy.detectionOutput?.images ?? 0) > 0);
}

export function compareBoxesPerImage(
  a: RatioSums,
  b: RatioSums,
  unitOfAnalysis: 'requests' | 'devices',
  ctx: CompareContext,
): MetricResult {
  const A = clusteredRatio(a);
  const B = clusteredRatio(b);
  const base = {
    key: 'detection.boxes_per_image',
    kind: 'ratio' as const,
    label: 'detections per image',
    unit: 'count' as const,
    descriptive: true,
    nA: a.n,
    nB: b.n,
    unitOfAnalysis,
    analysed: { A: a.clusters, B: b.clusters },
    ...(unitOfAnalysis === 'devices' && { devices: { A: a.clusters, B: b.clusters } }),
  };
  if (!(a.n > 0) || !(b.n > 0)) return notEnough(base, ctx);
  const estimate = B.estimate - A.estimate;
  const variance = A.variance + B.variance;
  const look = { estimate, variance };
  const tau = Math.max(0.05, BOXES_PER_IMAGE_MDE * A.estimate);
  const p = alwaysValidP(ctx.previousP, look, tau);
  const cs = confidenceSequence(look, tau, ctx.alpha);
  const units =
    unitOfAnalysis === 'devices'
      ? { count: Math.min(a.clusters, b.clusters), min: MIN_DEVICES_FOR_VERDICT }
      : undefined;
  const v = decide(p, estimate, Math.min(a.n, b.n), ctx, true, units);
  return {
    ...base,
    verdict: v === 'better' || v === 'worse' ? 'differs' : v,
    effect: { estimate, low: cs.low, high: cs.high },
    pValue: variance > 0 ? twoSidedP(estimate / Math.sqrt(variance)) : 1,
    alwaysValidP: p,
  };
}

/**
 * Shadowed requests' matched-box F1 over both arms' summaries (the agent reports it on the
 * shadow variant), as a ratio over images: x_i = 2 matched, n_i = 2 matched + A-only + B-only.
 */
export function agreementSums(summaries: readonly TelemetrySummary[]): RatioSums {
  const out = { clusters: 0, x: 0, n: 0, xx: 0, xn: 0, nn: 0 };
  for (const s of summaries) {
    const b = s.accuracy.shadowBoxes;
    if (!b) continue;
    out.clusters += b.images;
    out.x += 2 * b.matched;
    out.n += 2 * b.matched + b.aOnly + b.bOnly;
    out.xx += b.numSq;
    out.xn += b.numDen;
    out.nn += b.denSq;
  }
  return out;
}

/**
 * A-vs-B agreement (matched-box F1 of shadowed requests): the effect is F1 - 1, B's answers
 * against A's own (which agree with themselves), with an always-valid interval over images.
 * Descriptive, an equivalence reading: `no_difference` when the whole interval lies within the
 * accuracy MDE of full agreement, `differs` when it lies beyond it, else `not_enough_data`.
 */
export function compareAgreement(s: RatioSums, mde: number, ctx: CompareContext): MetricResult {
  const r = clusteredRatio(s);
  const base = {
    key: 'detection.agreement',
    kind: 'agreement' as const,
    label: 'A-vs-B matched-box F1 (shadow)',
    unit: 'fraction' as const,
    descriptive: true,
    nA: s.clusters,
    nB: s.clusters,
    unitOfAnalysis: 'requests' as const,
    analysed: { A: s.clusters, B: s.clusters },
  };
  if (!(s.n > 0)) return notEnough(base, ctx);
  const look = { estimate: r.estimate - 1, variance: r.variance };
  const cs = confidenceSequence(look, mde, ctx.alpha);
  const low = Math.max(-1, cs.low);
  const high = Math.min(0, cs.high);
  const verdict =
    s.clusters < MIN_SAMPLES_FOR_VERDICT || s.clusters < ctx.minSamples
      ? 'not_enough_data'
      : low >= -mde
        ? 'no_difference'
        : high < -mde
          ? 'differs'
          : 'not_enough_data';
  const z = r.variance > 0 ? (r.estimate - (1 - mde)) / Math.sqrt(r.variance) : 0;
  return {
    ...base,
    verdict,
    effect: { estimate: look.estimate, low, high },
    pValue: r.variance > 0 ? twoSidedP(z) : 1,
    alwaysValidP: alwaysValidP(
      ctx.previousP,
      { estimate: look.estimate + mde, variance: r.variance },
      mde,
    ),
  };
}
