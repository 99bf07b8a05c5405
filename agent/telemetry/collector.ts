// Per-variant telemetry for one interval: request and error counts, latency sketches end-to-end
// and per stage (shared/stats LatencySketch, mergeable on the controller), accuracy counters
// (golden gate results, shadow agreement kept paired, ground-truth feedback, a detector's boxes).
// Counters accumulate in the wire body's own shape (RequestCounters, AccuracyCounters), so the
// report is written without reshaping. `take()` returns the interval's reports and starts a new
// interval.
import { LatencySketch } from '../../shared/stats/sketch.js';
import { accumulateMoments, emptyMoments } from '../../shared/stats/channel-moments.js';
import {
  addBoxAgreement,
  addDetectionOutput,
  emptyBoxAgreement,
  emptyDetectionOutput,
} from '../../shared/detect/agreement.js';
import {
  LATENCY_STAGES,
  type AccuracyCounters,
  type DriftStats,
  type LatencyStage,
  type RequestCounters,
} from '../../shared/wire/messages.js';
import type { ServeObserver } from '../serve/observe.js';
import type { VariantName } from '../serve/types.js';
import type { Digest } from '../../shared/ids.js';

export interface VariantReport {
  readonly variant: VariantName;
  readonly bundleDigest: Digest | undefined;
  /** The wire's RequestCounters, as they go out. */
  readonly counters: RequestCounters;
  /** One sketch per LatencyStage, under the name the wire and the experiment report use. */
  readonly latency: Readonly<Record<LatencyStage, LatencySketch>>;
  /**
   * The wire's AccuracyCounters, accumulated in the shape they are sent: golden counts of the
   * last gate; shadow pairs, agreement and labelled outcomes on the shadow variant (A = the
   * variant that answered, B = this one; a pair's label may arrive intervals after the pair);
   * a detector's box feedback (TP/FP/FN at IoU 0.5), answers (boxes per image, score
   * histogram) and shadow box agreement. Optional fields are absent until something sets them.
   */
  readonly accuracy: AccuracyCounters;
  /** Per-input, per-channel moments of the preprocessed inputs (field quantization health). */
  readonly drift: readonly DriftStats[];
}

interface Interval extends Omit<VariantReport, 'drift' | 'bundleDigest'> {
  bundleDigest: Digest | undefined;
  inputs: Map<string, DriftStats[]>;
  inputCount: number;
}

export function emptyRequestCounters(): RequestCounters {
  return { requests: 0, errors: 0, errorsByCode: {}, shadowRequests: 0 };
}

/** Adds `from` to `into` (mutates `into`): every RequestCounters field is a sum. */
export function addRequestCounters(into: RequestCounters, from: RequestCounters): void {
  into.requests += from.requests;
  into.errors += from.errors;
  into.shadowRequests += from.shadowRequests;
  for (const [code, n] of Object.entries(from.errorsByCode)) {
    into.errorsByCode[code] = (into.errorsByCode[code] ?? 0) + n;
  }
}

function empty(variant: VariantName): Interval {
  return {
    variant,
    bundleDigest: undefined,
    counters: emptyRequestCounters(),
    inputs: new Map(),
    inputCount: 0,
    latency: {
      e2e: new LatencySketch(),
      preprocess: new LatencySketch(),
      infer: new LatencySketch(),
      postprocess: new LatencySketch(),
    },
    accuracy: {
      goldenCorrect: 0,
      goldenTotal: 0,
      feedbackCorrect: 0,
      feedbackTotal: 0,
      shadow: {
        pairs: 0,
        top1Agree: 0,
        cosineSum: 0,
        bothCorrect: 0,
        aOnlyCorrect: 0,
        bOnlyCorrect: 0,
        bothWrong: 0,
      },
    },
  };
}

export interface TelemetryCollector {
  readonly observer: ServeObserver;
  take(): VariantReport[];
}

const DRIFT_ELEMENTS_PER_REQUEST = 200_000;
const MAX_DRIFT_CHANNELS = 16;

export function createTelemetryCollector(): TelemetryCollector {
  let current = new Map<VariantName, Interval>();
  const of = (v: VariantName): Interval => {
    let r = current.get(v);
    if (!r) current.set(v, (r = empty(v)));
    return r;
  };
  const observer: ServeObserver = {
    onRequest(r) {
      const rep = of(r.variant);
      rep.bundleDigest = r.bundleDigest ?? rep.bundleDigest;
      const c = rep.counters;
      c.requests += 1;
      if (!r.ok) {
        c.errors += 1;
        const code = r.errorCode ?? 'BMF_ERR_INTERNAL';
        c.errorsByCode[code] = (c.errorsByCode[code] ?? 0) + 1;
      }
      if (r.detections) {
        addDetectionOutput((rep.accuracy.detectionOutput ??= emptyDetectionOutput()), r.detections);
      }
      if (r.timings) {
        // One name per stage: timings.<stage>Ms is the wire's latency[<stage>] (e2eMs is e2e).
        for (const stage of LATENCY_STAGES) rep.latency[stage].add(r.timings[`${stage}Ms`]);
      }
    },
    onInput(r) {
      const rep = of(r.variant);
      rep.bundleDigest ??= r.bundleDigest;
      rep.inputCount += 1;
      for (const [name, t] of Object.entries(r.feeds)) {
        // Large inputs are sampled so the moments cost well under the inference itself.
        const every = Math.max(1, Math.floor(t.data.length / DRIFT_ELEMENTS_PER_REQUEST));
        if (rep.inputCount % every !== 0) continue;
        const channels = r.channelFormat === 'nchw' ? t.shape[1] : t.shape[t.shape.length - 1];
        if (!channels || channels > MAX_DRIFT_CHANNELS) continue;
        let acc = rep.inputs.get(name);
        if (!acc || acc.length !== channels)
          rep.inputs.set(name, (acc = emptyMoments(name, channels)));
        accumulateMoments(acc, t, r.channelFormat);
      }
    },
    onShadow(s) {
      // Kept on the shadow variant: "B agreed with A on these A requests" is a paired figure.
      const rep = of(s.shadow);
      // A variant that only shadows serves no request: its report still names its bundle.
      rep.bundleDigest = s.shadowBundle;
      // Every shadow run is a shadow request; only those that answered are pairs.
      rep.counters.shadowRequests += 1;
      if (s.top1Agree === undefined) return;
      const sh = rep.accuracy.shadow;
      sh.pairs += 1;
      sh.top1Agree += s.top1Agree ? 1 : 0;
      sh.cosineSum += s.cosine ?? 0;
      sh.cosineMin = Math.min(sh.cosineMin ?? 1, s.cosine ?? 0);
      if (s.boxes) addBoxAgreement((sh.boxes ??= emptyBoxAgreement()), s.boxes);
    },
    onDetectionFeedback(f) {
      const rep = of(f.variant);
      rep.bundleDigest ??= f.bundleDigest;
      const d = (rep.accuracy.detection ??= { feedback: 0, tp: 0, fp: 0, fn: 0 });
      d.feedback += 1;
      d.tp += f.tp;
      d.fp += f.fp;
      d.fn += f.fn;
    },
    onFeedback(f) {
      // Feedback often comes intervals after its request: the report still needs a bundle.
      const rep = of(f.variant);
      rep.bundleDigest ??= f.bundleDigest;
      rep.accuracy.feedbackTotal += 1;
      rep.accuracy.feedbackCorrect += f.correct ? 1 : 0;
    },
    onShadowFeedback(p) {
      // On the shadow variant's report, beside the pairs and agreement it already carries.
      const rep = of(p.shadow);
      rep.bundleDigest ??= p.shadowBundle;
      rep.accuracy.shadow[p.outcome] += 1;
    },
    onGate(g) {
      // A gate or golden run often falls in an interval where its variant served nothing yet
      // (a candidate activated just now): the report still needs a bundle, or the counts are
      // never sent.
      const rep = of(g.variant);
      rep.bundleDigest ??= g.bundleDigest;
      const acc = rep.accuracy;
      // Counts as the gate scored them: no ratio to turn back into a count.
      acc.goldenCorrect = g.correct ?? 0;
      acc.goldenTotal = g.correct === undefined ? 0 : g.samples;
      // Absent stays absent: without a golden cosine the optional wire field is unset.
      if (g.cosine === undefined) delete acc.goldenCosineMin;
      else acc.goldenCosineMin = g.cosine;
    },
  };
  return {
    observer,
    take() {
      const reports = [...current.values()].map(
        ({ inputs, inputCount: _n, ...r }): VariantReport => ({
          ...r,
          drift: [...inputs.values()].flat().filter((m) => m.count > 0),
        }),
      );
      current = new Map();
      return reports;
    },
  };
}
