// The in-process inference API (apps that embed the agent call it directly; the local HTTP API is
// a thin layer over it). One request: route to a variant, pin its model, preprocess, infer,
// decode top-k, record; a sampled shadow run on B is compared and never returned. Feedback on a
// shadowed request scores both answers (shadow-pairs.ts) for the paired accuracy test.
import { randomUUID } from 'node:crypto';
import { compareAnswers } from '../../shared/detect/agreement.js';
import { matchDetections, type MatchCounts } from '../../shared/detect/match.js';
import { bmfError, toBmfError } from '../../shared/errors.js';
import type { PreprocessSpec } from '../../shared/preprocess/spec.js';
import type { Tensor } from '../../shared/tensor.js';
import type { Clock } from '../clock.js';
import type { RuntimeBackend, TimingMode } from '../runtime/types.js';
import { imageToFeeds, type ImageToFeeds } from './image-feeds.js';
import type { ServingModel } from './model-slot.js';
import { notify } from './observe.js';
import type { ServeObserver, StageTimings } from './observe.js';
import { argmax, decodeBoxes, outputCosine, topK } from './postprocess.js';
import type { DetectionAnswer, TopKEntry } from './postprocess.js';
import { DEFAULT_SHADOW_PAIR_LIMITS, createShadowPairStore, isCorrect } from './shadow-pairs.js';
import type { Prediction, ScoredPair, ShadowPairLimits } from './shadow-pairs.js';
import { ALL_TO_A, routeRequest } from './traffic.js';
import type { TrafficSplit } from './traffic.js';
import type { VariantName } from './types.js';
import { VariantSet } from './variants.js';
import type { Digest } from '../../shared/ids.js';

export type InferInput =
  | { readonly kind: 'image'; readonly bytes: Uint8Array }
  | { readonly kind: 'tensor'; readonly feeds: Readonly<Record<string, Tensor>> };

export interface InferOptions {
  /** Sticky routing key (user, camera); also what weighted routing ignores. */
  readonly requestKey?: string;
  readonly signal?: AbortSignal;
}

export interface InferResponse {
  readonly requestId: string;
  readonly variant: VariantName;
  readonly bundleDigest: Digest;
  readonly modelVersion: string;
  readonly outputs: Readonly<Record<string, Tensor>>;
  /** Classifiers: the k best classes. Empty for detectors. */
  readonly topK: readonly TopKEntry[];
  /** Detectors (the bundle declares a detection decoder): boxes in source-image pixels. */
  readonly detections?: readonly DetectionAnswer[];
  readonly timings: StageTimings;
  readonly timing: TimingMode;
}

/** One ground-truth box for /v1/feedback: class by index or by the model's label name. */
export interface GroundTruthBoxInput {
  readonly box: readonly [number, number, number, number];
  readonly classId?: number;
  readonly label?: string;
}

/** Detections are matched to ground truth at this IoU (the PASCAL VOC / COCO AP50 criterion). */
export const FEEDBACK_IOU = 0.5;

export interface ModelInfo {
  readonly variant: VariantName;
  readonly bundleDigest: Digest;
  readonly version: string;
  readonly bmodelDigest: Digest;
  readonly lastKnownGood: Digest | undefined;
  readonly inputs: ServingModel['handle']['description']['inputs'];
  readonly outputs: ServingModel['handle']['description']['outputs'];
}

export interface InferenceServiceDeps {
  readonly runtime: RuntimeBackend;
  readonly clock: Clock;
  readonly observers?: readonly ServeObserver[];
  /** Image bytes -> feeds; defaults to the shared preprocessing with the bundle's spec. */
  readonly imageToFeeds?: ImageToFeeds;
  readonly random?: () => number;
  readonly topK?: number;
  /** How many recent requests feedback can still refer to. */
  readonly feedbackCapacity?: number;
  /** Bounds on the shadowed requests kept for paired feedback (DEFAULT_SHADOW_PAIR_LIMITS). */
  readonly shadowPairs?: Partial<ShadowPairLimits>;
}

export interface InferenceService {
  readonly variants: VariantSet;
  setTraffic(split: TrafficSplit): void;
  traffic(): TrafficSplit;
  infer(input: InferInput, options?: InferOptions): Promise<InferResponse>;
  feedback(requestId: string, label: number | string): { correct: boolean };
  /** Ground-truth boxes (source pixels) for a detector's answer: TP/FP/FN at IoU 0.5. */
  feedbackBoxes(requestId: string, boxes: readonly GroundTruthBoxInput[]): MatchCounts;
  models(): ModelInfo[];
  ready(): boolean;
  /** Resolves when shadow runs and health timers in flight have finished. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** What feedback needs of an answer: the prediction, and a detector's boxes. */
type Remembered = Prediction & { readonly detections?: readonly DetectionAnswer[] };

/** The layout of a model's feeds: its spec's (defaults filled when parsed); NCHW without one. */
function channelFormatOf(preprocess: PreprocessSpec | undefined): 'nchw' | 'nhwc' {
  return preprocess?.channel_format ?? 'nchw';
}

/** A detector's request image size, to map boxes back to its pixels (none for tensor input). */
async function sourceSize(input: InferInput) {
  return input.kind === 'image'
    ? (await import('./request-tensor.js')).encodedImageSize(input.bytes)
    : undefined;
}

export function createInferenceService(deps: InferenceServiceDeps): InferenceService {
  const observers = deps.observers ?? [];
  const { clock, runtime } = deps;
  const random = deps.random ?? Math.random;
  const k = deps.topK ?? 5;
  const capacity = deps.feedbackCapacity ?? 10_000;
  const variants = new VariantSet({ runtime, clock, observers });
  const recent = new Map<string, Remembered>();
  const pairs = createShadowPairStore({ ...DEFAULT_SHADOW_PAIR_LIMITS, ...deps.shadowPairs }, () =>
    clock.now(),
  );
  const shadows = new Set<Promise<void>>();
  let split: TrafficSplit = ALL_TO_A;

  function remember(id: string, r: Remembered): void {
    recent.set(id, r);
    if (recent.size > capacity) recent.delete(recent.keys().next().value as string);
  }

  async function toFeeds(input: InferInput, model: ServingModel): Promise<Record<string, Tensor>> {
    if (input.kind === 'tensor') return { ...input.feeds };
    return (deps.imageToFeeds ?? imageToFeeds)(input.bytes, model);
  }

  function notifyPair(p: ScoredPair | undefined): void {
    if (!p) return;
    notify(observers, 'onShadowFeedback', {
      primary: p.primary.variant,
      shadow: p.shadow.variant,
      primaryBundle: p.primary.bundleDigest,
      shadowBundle: p.shadow.bundleDigest,
      outcome: p.outcome,
    });
  }

  function runShadow(
    name: VariantName,
    primary: InferResponse,
    answer: Prediction,
    feeds: Record<string, Tensor>,
    owned: boolean,
    source: Awaited<ReturnType<typeof sourceSize>>,
  ): void {
    const slot = variants.slot(name);
    if (!slot?.current()) return;
    const pinned = slot.pin();
    const { spec } = pinned.model;
    const primaryOut = Object.values(primary.outputs)[0];
    pairs.open(primary.requestId, answer);
    const run = runtime
      .infer(pinned.model.handle, feeds, undefined, { consumeInputs: owned })
      // Detectors are compared box by box, in the source image's pixels both answers use; a
      // shadow whose outputs cannot be decoded failed like one whose inference did.
      .then((r) => ({
        r,
        boxes:
          spec.decoder && primary.detections
            ? compareAnswers(
                primary.detections,
                decodeBoxes(spec.decoder, r.outputs, spec, pinned.model.handle.description, source),
              )
            : undefined,
      }))
      .then(
        ({ r, boxes }) => {
          const out = Object.values(r.outputs)[0];
          const top1 = out && out.data.length > 0 ? argmax(out.data) : -1;
          const agree = out && primaryOut ? argmax(out.data) === argmax(primaryOut.data) : false;
          const cosine = out && primaryOut ? outputCosine(out, primaryOut) : 0;
          const shadow: Prediction = {
            variant: name,
            bundleDigest: spec.bundleDigest,
            top1,
            labels: spec.labels,
          };
          return { top1Agree: agree, cosine, shadow, ...(boxes && { boxes }) };
        },
        () => ({ top1Agree: undefined, cosine: undefined, shadow: undefined }),
      )
      .then(({ shadow, ...cmp }) => {
        notify(observers, 'onShadow', {
          primary: primary.variant,
          shadow: name,
          primaryBundle: primary.bundleDigest,
          shadowBundle: spec.bundleDigest,
          ...cmp,
        });
        if (shadow) notifyPair(pairs.resolve(primary.requestId, shadow));
        else pairs.fail(primary.requestId);
      })
      .finally(() => pinned.release());
    shadows.add(run);
    void run.finally(() => shadows.delete(run));
  }

  async function infer(input: InferInput, options: InferOptions = {}): Promise<InferResponse> {
    const route = routeRequest({
      split,
      available: variants.names(),
      requestKey: options.requestKey,
      random,
    });
    const slot = route && variants.slot(route.variant);
    if (!slot) {
      // A failure the caller saw, though no model answered: recorded without a bundle, so
      // telemetry carries it as failed before a model (wire failed_before_model). With nothing
      // loaded it is A's: the variant every request goes to while B does not serve (traffic.ts).
      notify(observers, 'onRequest', {
        variant: route?.variant ?? 'A',
        bundleDigest: undefined,
        ok: false,
        errorCode: 'BMF_ERR_AGENT_NOT_READY',
        serverError: true,
        timings: undefined,
      });
      throw bmfError('BMF_ERR_AGENT_NOT_READY');
    }
    const pinned = slot.pin();
    const { spec, handle } = pinned.model;
    const t0 = clock.now();
    try {
      const feeds = await toFeeds(input, pinned.model);
      // Detectors answer in the request image's pixels: its size is needed to map boxes back.
      const source = spec.decoder ? await sourceSize(input) : undefined;
      const t1 = clock.now();
      notify(observers, 'onInput', {
        variant: route.variant,
        bundleDigest: spec.bundleDigest,
        feeds,
        channelFormat: channelFormatOf(spec.preprocess),
      });
      // Feeds the service made (image preprocessing) are nobody else's once onInput has run, so
      // the runtime may move them instead of copying (600 KB per MobileNetV2 request); a sampled
      // shadow run still needs them, so then the primary copies and the shadow consumes them.
      // A caller's tensors are always left as they were.
      const owned = input.kind === 'image';
      const result = await runtime.infer(handle, feeds, options.signal, {
        consumeInputs: owned && !route.shadow,
      });
      const t2 = clock.now();
      const first = Object.values(result.outputs)[0];
      const decoded = first && !spec.decoder ? topK(first.data, k, spec.labels) : [];
      const detections = spec.decoder
        ? decodeBoxes(spec.decoder, result.outputs, spec, handle.description, source)
        : undefined;
      const t3 = clock.now();
      // The infer stage is what the runtime reports (the board's latency in `modeled` timing);
      // the end-to-end time is the sum of the stages, as the board would see it.
      const timings: StageTimings = {
        preprocessMs: t1 - t0,
        inferMs: result.inferMs,
        postprocessMs: t3 - t2,
        e2eMs: t1 - t0 + result.inferMs + (t3 - t2),
      };
      const response: InferResponse = {
        requestId: randomUUID(),
        variant: route.variant,
        bundleDigest: spec.bundleDigest,
        modelVersion: spec.version,
        outputs: result.outputs,
        topK: decoded,
        ...(detections && { detections }),
        timings,
        timing: result.timing,
      };
      const answer: Prediction = {
        variant: route.variant,
        bundleDigest: spec.bundleDigest,
        top1: decoded[0]?.index ?? -1,
        labels: spec.labels,
      };
      remember(response.requestId, detections ? { ...answer, detections } : answer);
      notify(observers, 'onRequest', {
        variant: route.variant,
        bundleDigest: spec.bundleDigest,
        ok: true,
        serverError: false,
        timings,
        ...(detections && { detections }),
      });
      variants.record(route.variant, spec.bundleDigest, { ok: true, latencyMs: timings.e2eMs });
      if (route.shadow) runShadow(route.shadow, response, answer, feeds, owned, source);
      return response;
    } catch (e) {
      const err = toBmfError(e);
      const serverError = err.status >= 500;
      notify(observers, 'onRequest', {
        variant: route.variant,
        bundleDigest: spec.bundleDigest,
        ok: false,
        errorCode: err.code,
        serverError,
        timings: undefined,
      });
      // Bad input is the caller's fault: it does not count against the model's health.
      if (serverError)
        variants.record(route.variant, spec.bundleDigest, {
          ok: false,
          latencyMs: clock.now() - t0,
        });
      throw err;
    } finally {
      pinned.release();
    }
  }

  return {
    variants,
    setTraffic: (s) => {
      split = s;
    },
    traffic: () => split,
    infer,
    feedback(requestId, label) {
      const r = recent.get(requestId);
      if (!r) throw bmfError('BMF_ERR_FEEDBACK_UNKNOWN_REQUEST', { requestId });
      const correct = isCorrect(r, label);
      recent.delete(requestId); // one verdict per request: a second one is an unknown id
      notify(observers, 'onFeedback', {
        variant: r.variant,
        bundleDigest: r.bundleDigest,
        correct,
      });
      notifyPair(pairs.label(requestId, label));
      return { correct };
    },
    feedbackBoxes(requestId, boxes) {
      const r = recent.get(requestId);
      if (!r) throw bmfError('BMF_ERR_FEEDBACK_UNKNOWN_REQUEST', { requestId });
      if (!r.detections) {
        throw bmfError('BMF_ERR_DETECTION_DATA', {
          field: 'boxes',
          reason: `request ${requestId} was answered by a classifier: send a label`,
        });
      }
      const truth = boxes.map((b, i) => {
        const classId =
          b.classId ?? (b.label === undefined ? -1 : (r.labels?.indexOf(b.label) ?? -1));
        if (classId < 0) {
          throw bmfError('BMF_ERR_DETECTION_DATA', {
            field: `boxes[${i}]`,
            reason: b.label === undefined ? 'needs classId or label' : `unknown label ${b.label}`,
          });
        }
        return { box: b.box, classId };
      });
      const counts = matchDetections(r.detections, truth, FEEDBACK_IOU);
      recent.delete(requestId); // one verdict per request
      notify(observers, 'onDetectionFeedback', {
        variant: r.variant,
        bundleDigest: r.bundleDigest,
        ...counts,
      });
      return counts;
    },
    models() {
      const out: ModelInfo[] = [];
      for (const name of ['A', 'B'] as const) {
        const m = variants.slot(name)?.current();
        if (!m) continue;
        out.push({
          variant: name,
          bundleDigest: m.spec.bundleDigest,
          version: m.spec.version,
          bmodelDigest: m.spec.bmodelDigest,
          lastKnownGood: variants.lastKnownGood(name)?.bundleDigest,
          inputs: m.handle.description.inputs,
          outputs: m.handle.description.outputs,
        });
      }
      return out;
    },
    ready: () => variants.names().size > 0,
    async settle() {
      await Promise.allSettled([...shadows]);
      await variants.settle();
    },
    async close() {
      await Promise.allSettled([...shadows]);
      await variants.close();
    },
  };
}
