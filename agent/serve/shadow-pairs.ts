// Shadowed requests waiting for a ground-truth label. When feedback names one, both variants'
// top-1 on that same input are scored, giving the paired counts McNemar's test needs
// (shared/stats/hypothesis/proportions.ts; wire ShadowAgreement both_correct .. both_wrong).
//
// Bounds: at most `capacity` request ids (oldest evicted first) and none older than `ttlMs`
// (measured from the primary answer). An evicted or expired pair only loses its pairing: the
// feedback still counts for the serving variant's own accuracy. Each entry is scored at most
// once; a label that arrives while the shadow run is still in flight waits on the entry.
import type { VariantName } from './types.js';
import type { Digest } from '../../shared/ids.js';

/** The default bounds: as many ids as the service keeps for feedback, for one hour. */
export const DEFAULT_SHADOW_PAIR_LIMITS: ShadowPairLimits = { capacity: 10_000, ttlMs: 3_600_000 };

export interface ShadowPairLimits {
  /** Most shadowed request ids kept; the oldest goes first. */
  readonly capacity: number;
  /** How long after the answer a label can still be paired. */
  readonly ttlMs: number;
}

export type FeedbackLabel = number | string;

/** One variant's answer to a request, as feedback scores it. */
export interface Prediction {
  readonly variant: VariantName;
  readonly bundleDigest: Digest;
  /** Top-1 class index, -1 when the model produced no scores. */
  readonly top1: number;
  readonly labels: readonly string[] | undefined;
}

/** A = the variant that answered, B = the shadow (the wire ShadowAgreement's naming). */
export type PairedOutcome = 'bothCorrect' | 'aOnlyCorrect' | 'bOnlyCorrect' | 'bothWrong';

export interface ScoredPair {
  readonly primary: Prediction;
  readonly shadow: Prediction;
  readonly outcome: PairedOutcome;
}

/** A numeric label is a class index; a string is a class name from the model's own labels. */
export function isCorrect(p: Prediction, label: FeedbackLabel): boolean {
  return typeof label === 'number' ? label === p.top1 : p.labels?.[p.top1] === label;
}

export function pairedOutcome(aCorrect: boolean, bCorrect: boolean): PairedOutcome {
  if (aCorrect) return bCorrect ? 'bothCorrect' : 'aOnlyCorrect';
  return bCorrect ? 'bOnlyCorrect' : 'bothWrong';
}

export function scorePair(
  primary: Prediction,
  shadow: Prediction,
  label: FeedbackLabel,
): ScoredPair {
  return {
    primary,
    shadow,
    outcome: pairedOutcome(isCorrect(primary, label), isCorrect(shadow, label)),
  };
}

export interface ShadowPairStore {
  /** A shadow run started for `requestId`, whose primary answer was `primary`. */
  open(requestId: string, primary: Prediction): void;
  /** The shadow run finished; returns the pair scored if its label was already waiting. */
  resolve(requestId: string, shadow: Prediction): ScoredPair | undefined;
  /** The shadow run failed: there is no pair to score. */
  fail(requestId: string): void;
  /**
   * Feedback for `requestId`: the pair scored now, or undefined when there is none (never
   * shadowed, evicted, expired, already labelled) or the shadow run is still in flight.
   */
  label(requestId: string, label: FeedbackLabel): ScoredPair | undefined;
  size(): number;
}

interface Entry {
  readonly at: number;
  readonly primary: Prediction;
  shadow: Prediction | undefined;
  waiting: FeedbackLabel | undefined;
}

export function createShadowPairStore(
  limits: ShadowPairLimits,
  now: () => number,
): ShadowPairStore {
  // Insertion order is age order (ids are opened as their answers are made), so the oldest
  // entry is always the first key.
  const entries = new Map<string, Entry>();

  function expire(): void {
    const cutoff = now() - limits.ttlMs;
    for (const [id, e] of entries) {
      if (e.at > cutoff) break;
      entries.delete(id);
    }
  }

  function live(requestId: string): Entry | undefined {
    expire();
    return entries.get(requestId);
  }

  return {
    open(requestId, primary) {
      expire();
      entries.delete(requestId);
      entries.set(requestId, { at: now(), primary, shadow: undefined, waiting: undefined });
      while (entries.size > limits.capacity) {
        entries.delete(entries.keys().next().value as string);
      }
    },
    resolve(requestId, shadow) {
      const e = live(requestId);
      if (!e) return undefined;
      if (e.waiting === undefined) {
        e.shadow = shadow;
        return undefined;
      }
      entries.delete(requestId);
      return scorePair(e.primary, shadow, e.waiting);
    },
    fail(requestId) {
      entries.delete(requestId);
    },
    label(requestId, label) {
      const e = live(requestId);
      if (!e || e.waiting !== undefined) return undefined;
      if (!e.shadow) {
        e.waiting = label;
        return undefined;
      }
      entries.delete(requestId);
      return scorePair(e.primary, e.shadow, label);
    },
    size() {
      expire();
      return entries.size;
    },
  };
}
