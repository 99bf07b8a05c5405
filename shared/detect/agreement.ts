// Two detectors' answers on one image compared box by box (issue 11, A-vs-B agreement for
// shadowed requests), and the per-interval accumulators the agent's telemetry carries on the
// wire as they are (ShadowBoxAgreement, DetectionOutput). The match is the feedback's rule
// (match.ts: greedy, best score first, same class, IoU >= 0.5) with A's boxes in the place of
// the ground truth: B's matched boxes are the matches, its unmatched ones B-only, A's left over
// A-only. Matched-box F1 = 2M / (2M + A-only + B-only) is the Dice overlap of the two answers;
// summing M, A-only and B-only over images makes it aggregate exactly.
import {
  SCORE_HISTOGRAM_BINS,
  type DetectionOutput,
  type ShadowBoxAgreement,
} from '../wire/messages.js';
import { matchDetections, type MatchBox } from './match.js';

/** Boxes of two answers to one image are matched at this IoU (the AP50 criterion). */
export const AGREEMENT_IOU = 0.5;

export interface BoxAgreement {
  readonly matched: number;
  readonly aOnly: number;
  readonly bOnly: number;
}

type Scored = MatchBox & { readonly score: number };

export function compareAnswers(a: readonly Scored[], b: readonly Scored[]): BoxAgreement {
  const m = matchDetections(b, a, AGREEMENT_IOU);
  return { matched: m.tp, aOnly: m.fn, bOnly: m.fp };
}

export function emptyBoxAgreement(): ShadowBoxAgreement {
  return { images: 0, matched: 0, aOnly: 0, bOnly: 0, numSq: 0, numDen: 0, denSq: 0 };
}

/** Add one image's comparison to `into` (mutates it). */
export function addBoxAgreement(into: ShadowBoxAgreement, one: BoxAgreement): void {
  const num = 2 * one.matched;
  const den = num + one.aOnly + one.bOnly;
  into.images += 1;
  into.matched += one.matched;
  into.aOnly += one.aOnly;
  into.bOnly += one.bOnly;
  into.numSq += num * num;
  into.numDen += num * den;
  into.denSq += den * den;
}

/** Add `from` to `into` (mutates `into`): every field is a sum. */
export function mergeBoxAgreement(into: ShadowBoxAgreement, from: ShadowBoxAgreement): void {
  into.images += from.images;
  into.matched += from.matched;
  into.aOnly += from.aOnly;
  into.bOnly += from.bOnly;
  into.numSq += from.numSq;
  into.numDen += from.numDen;
  into.denSq += from.denSq;
}

/** Matched-box F1 of the sums; NaN when neither answer had a box. */
export function boxAgreementF1(s: BoxAgreement): number {
  const den = 2 * s.matched + s.aOnly + s.bOnly;
  return den > 0 ? (2 * s.matched) / den : NaN;
}

export function emptyDetectionOutput(): DetectionOutput {
  return {
    images: 0,
    boxes: 0,
    boxesSq: 0,
    scoreHistogram: new Array<number>(SCORE_HISTOGRAM_BINS).fill(0),
  };
}

/** Bin of a score in [0, 1] (out-of-range scores go to the end bins). */
export function scoreBin(score: number): number {
  const i = Math.floor(score * SCORE_HISTOGRAM_BINS);
  return Math.min(SCORE_HISTOGRAM_BINS - 1, Math.max(0, Number.isFinite(i) ? i : 0));
}

/** Add one answered image's boxes to `into` (mutates it). */
export function addDetectionOutput(
  into: DetectionOutput,
  boxes: readonly { readonly score: number }[],
): void {
  into.images += 1;
  into.boxes += boxes.length;
  into.boxesSq += boxes.length * boxes.length;
  for (const b of boxes) into.scoreHistogram[scoreBin(b.score)]! += 1;
}

/** Add `from` to `into` (mutates `into`). Histograms of another length are added bin by bin. */
export function mergeDetectionOutput(into: DetectionOutput, from: DetectionOutput): void {
  into.images += from.images;
  into.boxes += from.boxes;
  into.boxesSq += from.boxesSq;
  from.scoreHistogram.forEach((n, i) => {
    into.scoreHistogram[i] = (into.scoreHistogram[i] ?? 0) + n;
  });
}
