// What the serving path tells the rest of the agent (telemetry, Prometheus metrics, events).
// Observers are plain objects of optional callbacks; the service calls each one and never lets an
// observer's failure reach a request.
import type { BoxAgreement } from '../../shared/detect/agreement.js';
import type { ErrorCode } from '../../shared/errors.js';
import type { Tensor } from '../../shared/tensor.js';
import type { PairedOutcome } from './shadow-pairs.js';
import type { VariantName, ServeEvent } from './types.js';
import type { Digest } from '../../shared/ids.js';
import type { LatencyStage } from '../../shared/wire/messages.js';

/**
 * A request's stage times in milliseconds, one field per telemetry stage (LATENCY_STAGES) named
 * `<stage>Ms`: `e2eMs` is the same sample as telemetry's and the report's `e2e` stage, from the
 * agent's timer to the /v1/infer response, the agent's metrics and the experiment report.
 */
export type StageTimings = { readonly [S in LatencyStage as `${S}Ms`]: number };

export interface RequestRecord {
  readonly variant: VariantName;
  readonly bundleDigest: Digest | undefined;
  readonly ok: boolean;
  /** Set when the request failed; 4xx codes are the caller's fault and not the model's. */
  readonly errorCode?: ErrorCode;
  readonly serverError: boolean;
  readonly timings: StageTimings | undefined;
  /** A detector's answer: its boxes' scores (the box count per image and score histogram). */
  readonly detections?: readonly { readonly score: number }[];
}

export interface ShadowRecord {
  readonly primary: VariantName;
  readonly shadow: VariantName;
  readonly primaryBundle: Digest;
  readonly shadowBundle: Digest;
  /** undefined when the shadow run failed. */
  readonly top1Agree: boolean | undefined;
  readonly cosine: number | undefined;
  /** Detectors: B's boxes against A's on this image (undefined when either is no detector). */
  readonly boxes?: BoxAgreement;
}

export interface FeedbackRecord {
  readonly variant: VariantName;
  readonly bundleDigest: Digest;
  readonly correct: boolean;
}

/** Ground-truth boxes for a detector's answer: its detections matched at IoU 0.5. */
export interface DetectionFeedbackRecord {
  readonly variant: VariantName;
  readonly bundleDigest: Digest;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
}

/** Feedback on a request B also ran in the shadow: both answers scored against one label. */
export interface ShadowFeedbackRecord {
  readonly primary: VariantName;
  readonly shadow: VariantName;
  readonly primaryBundle: Digest;
  readonly shadowBundle: Digest;
  readonly outcome: PairedOutcome;
}

export interface GateRecord {
  readonly variant: VariantName;
  readonly bundleDigest: Digest;
  readonly passed: boolean;
  /** Golden samples run (0 when the gate failed before scoring or was skipped). */
  readonly samples: number;
  /** Labelled samples answered correctly (undefined without labels): a count, not a ratio. */
  readonly correct: number | undefined;
  readonly accuracy: number | undefined;
  readonly cosine: number | undefined;
}

/** The model inputs of one served request, after preprocessing (field quantization health). */
export interface InputRecord {
  readonly variant: VariantName;
  readonly bundleDigest: Digest;
  readonly feeds: Readonly<Record<string, Tensor>>;
  readonly channelFormat: 'nchw' | 'nhwc';
}

export interface ServeObserver {
  onRequest?(r: RequestRecord): void;
  onInput?(r: InputRecord): void;
  onShadow?(r: ShadowRecord): void;
  onFeedback?(r: FeedbackRecord): void;
  onDetectionFeedback?(r: DetectionFeedbackRecord): void;
  onShadowFeedback?(r: ShadowFeedbackRecord): void;
  onGate?(r: GateRecord): void;
  onEvent?(e: ServeEvent): void;
}

export function notify<K extends keyof ServeObserver>(
  observers: readonly ServeObserver[],
  kind: K,
  value: Parameters<NonNullable<ServeObserver[K]>>[0],
): void {
  for (const o of observers) {
    try {
      (o[kind] as ((v: typeof value) => void) | undefined)?.call(o, value);
    } catch {
      // An observer's bug must not fail a request or a swap.
    }
  }
}
