// What the serving layer needs to know about a model: the verified BMODEL bytes plus the bundle
// metadata that matters at run time (labels, preprocessing, golden set, gate thresholds, modeled
// latency). The sync layer builds it from a verified bundle in the store.
import type { LabelledImage } from '../../shared/detect/labels.js';
import type { DetectorSpec } from '../../shared/detect/spec.js';
import type { PreprocessSpec } from '../../shared/preprocess/spec.js';
import type { Tensor } from '../../shared/tensor.js';

export type { VariantName } from '../../shared/ids.js';
import type { VariantName } from '../../shared/ids.js';
import type { Digest } from '../../shared/ids.js';

export interface GoldenSet {
  readonly inputs: readonly Readonly<Record<string, Tensor>>[];
  /** Expected top-1 class per input (accuracy gate); omitted when the bundle has no labels. */
  readonly labels?: readonly number[];
  /** Reference outputs per input (output-similarity gate), e.g. from the FP32 original. */
  readonly referenceOutputs?: readonly Readonly<Record<string, Tensor>>[];
  /** Ground-truth boxes per input (detectors: the mAP gate), in source-image pixels. */
  readonly boxes?: readonly LabelledImage[];
}

export interface GateThresholds {
  /** Minimum top-1 accuracy on the golden set, 0..1. */
  readonly minAccuracy: number;
  /** Minimum mean cosine similarity against the reference outputs, 0..1. */
  readonly minCosine: number;
  /**
   * Detectors: minimum COCO mAP@[0.5:0.95] on the golden boxes, with what it takes to decode
   * (the bundle's decoder and preprocessing); absent for classifiers.
   */
  readonly map?: {
    readonly min: number;
    readonly decoder: DetectorSpec;
    readonly preprocess?: PreprocessSpec;
  };
}

export interface ModelSpec {
  /** Identity of the bundle (sha256 of its signed manifest). */
  readonly bundleDigest: Digest;
  readonly version: string;
  readonly bmodel: Uint8Array;
  readonly bmodelDigest: Digest;
  readonly modeledLatencyMs?: number;
  readonly labels?: readonly string[];
  /**
   * Preprocessing for image requests, as parsed from the manifest when it was verified (complete,
   * frozen): passed on, never parsed again, so per-spec caches (shared/preprocess) hold.
   */
  readonly preprocess?: PreprocessSpec;
  /** The bundle's detection decoder; absent for classifiers (top-k). */
  readonly decoder?: DetectorSpec;
  readonly golden?: GoldenSet;
  readonly gate?: GateThresholds;
}

export interface HealthThresholds {
  /** How long after activation the new model is watched. */
  readonly windowMs: number;
  /** Requests needed before a verdict on rates (fewer means "not enough data yet"). */
  readonly minRequests: number;
  readonly maxErrorRate: number;
  readonly maxP95Ms: number;
}

export type ServeEvent =
  | { readonly kind: 'activated'; readonly variant: VariantName; readonly bundleDigest: Digest }
  | {
      readonly kind: 'gate-failed';
      readonly variant: VariantName;
      readonly bundleDigest: Digest;
      readonly reason: string;
    }
  | { readonly kind: 'healthy'; readonly variant: VariantName; readonly bundleDigest: Digest }
  | {
      /** The health window's verdict: a fact the planner plans a rollback from. */
      readonly kind: 'regressed';
      readonly variant: VariantName;
      readonly bundleDigest: Digest;
      readonly reason: string;
    }
  | {
      /** Announced after the swap back to last-known-good has happened. */
      readonly kind: 'rolled-back';
      readonly variant: VariantName;
      readonly from: Digest;
      readonly to: Digest;
      readonly reason: string;
    }
  | { readonly kind: 'unloaded'; readonly variant: VariantName; readonly bundleDigest: Digest };
