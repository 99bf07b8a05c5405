// Per-variant telemetry for one interval: request and error counts, latency sketches end-to-end
// and per stage (shared/stats LatencySketch, mergeable on the controller), accuracy counters
// (golden gate results, shadow agreement kept paired, ground-truth feedback). `take()` returns
// the interval's reports and starts a new interval.
import { LatencySketch } from '../../shared/stats/sketch.js';
import { accumulateMoments, emptyMoments } from '../../shared/stats/channel-moments.js';
import type { DetectionMatches, DriftStats, LatencyStage } from '../../shared/wire/messages.js';
import type { ServeObserver } from '../serve/observe.js';
import type { PairedOutcome } from '../serve/shadow-pairs.js';
import type { VariantName } from '../serve/types.js';

export interface VariantReport {
  readonly variant: VariantName;
  readonly bundleDigest: string | undefined;
  readonly requests: number;
  readonly errors: number;
  readonly errorsByCode: Readonly<Record<string, number>>;
  /** One sketch per LatencyStage, under the name the wire and the experiment report use. */
  readonly latency: Readonly<Record<LatencyStage, LatencySketch>>;
  readonly accuracy: {
    readonly shadowPairs: number;
    readonly shadowTop1Agree: number;
    readonly shadowCosineSum: number;
    readonly shadowFailures: number;
    readonly feedbackTotal: number;
    readonly feedbackCorrect: number;
    /** The last gate's counts, as the wire carries them (AccuracyCounters). */
    readonly goldenCorrect: number;
    readonly goldenTotal: number;
    /** Lowest shadow cosine; undefined without a pair. */
    readonly shadowCosineMin: number | undefined;
    /**
     * Shadow pairs scored by feedback in this interval (A = the variant that answered, B = this
     * shadow variant). The pair itself may have been counted in an earlier interval.
     */
    readonly shadowLabelled: Readonly<Record<PairedOutcome, number>>;
    /** The last gate's output cosine; undefined when it compared no outputs. */
    readonly goldenCosineMin: number | undefined;
    /** Box feedback on a detector's answers in this interval (TP/FP/FN at IoU 0.5). */
    readonly detection: DetectionMatches;
  };
  /** Per-input, per-channel moments of the preprocessed inputs (field quantization health). */
  readonly drift: readonly DriftStats[];
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };
interface Interval extends Omit<Writable<VariantReport>, 'accuracy' | 'errorsByCode' | 'drift'> {
  errorsByCode: Record<string, number>;
  inputs: Map<string, DriftStats[]>;
  inputCount: number;
  accuracy: Writable<Omit<VariantReport['accuracy'], 'shadowLabelled'>> & {
    shadowLabelled: Record<PairedOutcome, number>;
  };
}

function empty(variant: VariantName): Interval {
  return {
    variant,
    bundleDigest: undefined,
    requests: 0,
    errors: 0,
    errorsByCode: {},
    inputs: new Map(),
    inputCount: 0,
    latency: {
      e2e: new LatencySketch(),
      preprocess: new LatencySketch(),
      infer: new LatencySketch(),
      postprocess: new LatencySketch(),
    },
    accuracy: {
      shadowPairs: 0,
      shadowTop1Agree: 0,
      shadowCosineSum: 0,
      shadowFailures: 0,
      feedbackTotal: 0,
      feedbackCorrect: 0,
      goldenCorrect: 0,
      goldenTotal: 0,
      shadowCosineMin: undefined,
      shadowLabelled: { bothCorrect: 0, aOnlyCorrect: 0, bOnlyCorrect: 0, bothWrong: 0 },
      goldenCosineMin: undefined,
      detection: { feedback: 0, tp: 0, fp: 0, fn: 0 },
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
      rep.requests += 1;
      if (!r.ok) {
        rep.errors += 1;
        const code = r.errorCode ?? 'BMF_ERR_INTERNAL';
        rep.errorsByCode[code] = (rep.errorsByCode[code] ?? 0) + 1;
      }
      if (r.timings) {
        // The serve layer's totalMs (the /v1/infer response field) is the e2e stage here on.
        rep.latency.e2e.add(r.timings.totalMs);
        rep.latency.preprocess.add(r.timings.preprocessMs);
        rep.latency.infer.add(r.timings.inferMs);
        rep.latency.postprocess.add(r.timings.postprocessMs);
      }
    },
    onInput(r) {
      const rep = of(r.variant);
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
      const acc = rep.accuracy;
      if (s.top1Agree === undefined) {
        acc.shadowFailures += 1;
        return;
      }
      acc.shadowPairs += 1;
      acc.shadowTop1Agree += s.top1Agree ? 1 : 0;
      acc.shadowCosineSum += s.cosine ?? 0;
      acc.shadowCosineMin = Math.min(acc.shadowCosineMin ?? 1, s.cosine ?? 0);
    },
    onDetectionFeedback(f) {
      const rep = of(f.variant);
      rep.bundleDigest ??= f.bundleDigest;
      const d = rep.accuracy.detection;
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
      rep.accuracy.shadowLabelled[p.outcome] += 1;
    },
    onGate(g) {
      const acc = of(g.variant).accuracy;
      // Counts as the gate scored them: no ratio to turn back into a count.
      acc.goldenCorrect = g.correct ?? 0;
      acc.goldenTotal = g.correct === undefined ? 0 : g.samples;
      acc.goldenCosineMin = g.cosine;
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
