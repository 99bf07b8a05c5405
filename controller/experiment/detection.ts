// Detection metrics of an experiment arm (issue 11): precision and recall at IoU 0.5 from box
// feedback (the agent matches each answer's boxes to the ground truth a user sends to
// /v1/feedback; telemetry sums TP, FP and FN per variant). Both are proportions over boxes, so
// they go through the same tests as accuracy: per request for traffic split, per device for
// cohorts. Post-processing latency (decode + NMS) is the `postprocess` stage, added to the
// compared stages whenever an arm has detection data. Pure.
import type { TelemetrySummary } from '../telemetry/summary.js';

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

/** Accuracy-like metrics (higher is better, bounded by the accuracy guardrail): class and box. */
export function isAccuracyKey(key: string): boolean {
  return key.startsWith('accuracy.') || key.startsWith('detection.');
}
