// Pure views over merged rollups: the summary a REST query returns, the merged sketches the
// experiment statistics read, and per-bucket counts for "sample size over time".
import { Type, type Static } from '@sinclair/typebox';
import { boxAgreementF1 } from '../../shared/detect/agreement.js';
import { bmfError } from '../../shared/errors.js';
import type { LatencySketch } from '../../shared/stats/sketch.js';
import {
  emptyRollup,
  mergeRollup,
  MINUTE_MS,
  minuteOf,
  type LatencySource,
  type Rollup,
} from './rollup.js';
import type { RollupRow, TelemetryFilter } from './store.js';

/**
 * What GET /v1/telemetry answers, as a TypeBox schema: it shapes the response, documents it and
 * types the API client (controller/api/client.ts). A figure that cannot be computed because
 * nothing was measured (no golden run, no shadow pair, no drift sample) is `null`, never 0 and
 * never a missing key (docs/architecture.md, "Telemetry").
 */
const Num = Type.Number();
const NumOrNull = Type.Union([Type.Number(), Type.Null()]);
const Count = Type.Integer({ minimum: 0 });

export const StageLatencySchema = Type.Object({
  count: Count,
  p50: Num,
  p90: Num,
  p95: Num,
  p99: Num,
  mean: Num,
  min: Num,
  max: Num,
});
export type StageLatency = Static<typeof StageLatencySchema>;

export const DriftSummarySchema = Type.Object({
  input: Type.String(),
  channel: Type.Integer({ minimum: 0 }),
  count: Count,
  /** null when count is 0. */
  mean: NumOrNull,
  std: NumOrNull,
  min: Num,
  max: Num,
  clippedLow: Count,
  clippedHigh: Count,
});
export type DriftSummary = Static<typeof DriftSummarySchema>;

/**
 * The board's TPU utilisation (percent) and device memory (bytes) from libsophon's bm_get_stat,
 * over the reports that carried them; `reports` 0 and nulls where the runtime cannot know them
 * (the simulator).
 */
export const TpuSummarySchema = Type.Object({
  reports: Count,
  percentMean: NumOrNull,
  percentMax: NumOrNull,
  memUsedBytesMax: NumOrNull,
  latest: Type.Union([
    Type.Object({ atMs: Num, percent: Num, memUsedBytes: Count, memTotalBytes: Count }),
    Type.Null(),
  ]),
});
export type TpuSummary = Static<typeof TpuSummarySchema>;

export const TelemetrySummarySchema = Type.Object({
  requests: Count,
  errors: Count,
  /** errors / requests; 0 when there were no requests. */
  errorRate: Num,
  errorsByCode: Type.Record(Type.String(), Count),
  /** Stages (LATENCY_STAGES, shared/wire/messages.ts) with at least one sample. */
  latency: Type.Record(Type.String(), StageLatencySchema),
  accuracy: Type.Object({
    golden: Type.Object({ correct: Count, total: Count, cosineMin: NumOrNull }),
    shadow: Type.Object({
      agree: Count,
      total: Count,
      cosineMean: NumOrNull,
      cosineMin: NumOrNull,
      /** Paired labelled outcomes (A = the served variant, B = the shadow), for McNemar. */
      bothCorrect: Count,
      aOnlyCorrect: Count,
      bOnlyCorrect: Count,
      bothWrong: Count,
      requests: Count,
    }),
    feedback: Type.Object({ correct: Count, total: Count }),
    /** A detector's answers scored by ground-truth boxes; only when box feedback arrived. */
    detection: Type.Optional(Type.Object({ feedback: Count, tp: Count, fp: Count, fn: Count })),
    /** What a detector answered (every request, feedback or not); only when one answered. */
    detectionOutput: Type.Optional(
      Type.Object({
        images: Count,
        boxes: Count,
        /** Sum over images of boxes^2 (the per-image variance: experiments test on it). */
        boxesSq: Num,
        boxesPerImage: Num,
        /** Boxes per score bin: equal bins on [0, 1] (SCORE_HISTOGRAM_BINS, shared/wire). */
        scoreHistogram: Type.Array(Count),
      }),
    ),
    /**
     * A detector's shadowed answers compared box by box (B's boxes against A's, IoU 0.5, same
     * class, per image); only when a shadow pair of detectors ran. f1 is null without a box.
     */
    shadowBoxes: Type.Optional(
      Type.Object({
        images: Count,
        matched: Count,
        aOnly: Count,
        bOnly: Count,
        f1: NumOrNull,
        /** Per-image sums of squares of F1's numerator and denominator (clustered variance). */
        numSq: Num,
        numDen: Num,
        denSq: Num,
      }),
    ),
  }),
  drift: Type.Array(DriftSummarySchema),
  /** Distinct devices with at least one report in the range. */
  devices: Count,
  reports: Count,
  /** Requests per latency source (rollup.ts): measured on the device, on this host, or modeled. */
  latencySources: Type.Partial(
    Type.Object({ device: Count, host: Count, modeled: Count, unknown: Count }),
  ),
  tpu: TpuSummarySchema,
  /**
   * Variant -> requests that failed before any model answered them (no bundle served them), as
   * the devices' reports carried them: failures users saw, outside requests and errors (those
   * are the bundles'). A bundle filter shows those its reports carried. {} when none.
   */
  failedBeforeModel: Type.Record(
    Type.String(),
    Type.Object({
      requests: Count,
      errors: Count,
      errorsByCode: Type.Record(Type.String(), Count),
    }),
  ),
});
export type TelemetrySummary = Static<typeof TelemetrySummarySchema>;

export interface TimelineBucket {
  readonly startMs: number;
  readonly requests: number;
  readonly errors: number;
  readonly reports: number;
  readonly devices: number;
  readonly goldenTotal: number;
  readonly feedbackTotal: number;
  readonly shadowPairs: number;
  /** Samples per latency stage in this bucket. */
  readonly stageCounts: Readonly<Record<string, number>>;
}

const MAX_BUCKETS = 10_000;

export function checkFilter(f: TelemetryFilter): void {
  if (!Number.isFinite(f.fromMs) || !Number.isFinite(f.toMs) || f.fromMs > f.toMs) {
    throw bmfError('BMF_ERR_BAD_REQUEST', {
      reason: `time range [${f.fromMs}, ${f.toMs}) is not a finite, ordered range`,
    });
  }
}

export function mergeRows(rows: Iterable<RollupRow>): { rollup: Rollup; devices: number } {
  const rollup = emptyRollup();
  const devices = new Set<string>();
  for (const row of rows) {
    mergeRollup(rollup, row.rollup);
    if (row.rollup.counters.reports > 0) devices.add(row.deviceId);
  }
  return { rollup, devices: devices.size };
}

export function stageLatency(s: LatencySketch): StageLatency {
  return {
    count: s.count,
    p50: s.quantile(0.5),
    p90: s.quantile(0.9),
    p95: s.quantile(0.95),
    p99: s.quantile(0.99),
    mean: s.mean,
    min: s.min,
    max: s.max,
  };
}

export function summarize(rollup: Rollup, devices: number): TelemetrySummary {
  const c = rollup.counters;
  const latency: Record<string, StageLatency> = {};
  for (const [stage, sketch] of rollup.sketches) {
    if (sketch.count > 0) latency[stage] = stageLatency(sketch);
  }
  const drift: DriftSummary[] = Object.entries(c.drift).map(([key, d]) => {
    const cut = key.lastIndexOf('/');
    const mean = d.count > 0 ? d.sum / d.count : null;
    const variance = mean !== null ? Math.max(0, d.sumSq / d.count - mean * mean) : null;
    return {
      input: key.slice(0, cut),
      channel: Number(key.slice(cut + 1)),
      count: d.count,
      mean,
      std: variance !== null ? Math.sqrt(variance) : null,
      min: d.min,
      max: d.max,
      clippedLow: d.clippedLow,
      clippedHigh: d.clippedHigh,
    };
  });
  const s = c.shadow;
  return {
    requests: rollup.requests,
    errors: rollup.errors,
    errorRate: rollup.requests > 0 ? rollup.errors / rollup.requests : 0,
    errorsByCode: { ...c.errorsByCode },
    latency,
    accuracy: {
      golden: {
        correct: c.goldenCorrect,
        total: c.goldenTotal,
        cosineMin: c.goldenCosineMin,
      },
      shadow: {
        agree: s.top1Agree,
        total: s.pairs,
        cosineMean: s.pairs > 0 ? s.cosineSum / s.pairs : null,
        cosineMin: s.cosineMin,
        bothCorrect: s.bothCorrect,
        aOnlyCorrect: s.aOnlyCorrect,
        bOnlyCorrect: s.bOnlyCorrect,
        bothWrong: s.bothWrong,
        requests: c.shadowRequests,
      },
      feedback: { correct: c.feedbackCorrect, total: c.feedbackTotal },
      ...(c.detection.feedback > 0 && { detection: { ...c.detection } }),
      ...(c.detectionOutput.images > 0 && { detectionOutput: detectionOutputOf(c) }),
      ...(s.boxes.images > 0 && {
        shadowBoxes: { ...s.boxes, f1: nullIfNaN(boxAgreementF1(s.boxes)) },
      }),
    },
    drift,
    devices,
    reports: c.reports,
    latencySources: sourcesOf(rollup),
    tpu: tpuOf(rollup.counters.tpu),
    failedBeforeModel: structuredClone(c.failedBeforeModel),
  };
}

function tpuOf(t: Rollup['counters']['tpu']): TpuSummary {
  return {
    reports: t.reports,
    percentMean: t.reports > 0 ? t.percentSum / t.reports : null,
    percentMax: t.percentMax,
    memUsedBytesMax: t.memUsedMaxBytes,
    latest: t.latest ? { ...t.latest } : null,
  };
}

function detectionOutputOf(c: Rollup['counters']): TelemetrySummary['accuracy']['detectionOutput'] {
  const d = c.detectionOutput;
  return {
    images: d.images,
    boxes: d.boxes,
    boxesSq: d.boxesSq,
    boxesPerImage: d.boxes / d.images,
    scoreHistogram: [...d.scoreHistogram],
  };
}

const nullIfNaN = (x: number): number | null => (Number.isNaN(x) ? null : x);

/** Requests by latency source; those of rows stored before sources were kept are `unknown`. */
function sourcesOf(rollup: Rollup): Partial<Record<LatencySource, number>> {
  const out: Partial<Record<LatencySource, number>> = {};
  let known = 0;
  for (const [k, n] of Object.entries(rollup.counters.latencySources)) {
    if (!n) continue;
    out[k as LatencySource] = n;
    known += n;
  }
  const rest = rollup.requests - known;
  if (rest > 0) out.unknown = (out.unknown ?? 0) + rest;
  return out;
}

/** Per-bucket counts over [minuteOf(fromMs), toMs), empty buckets included. */
export function timeline(
  rows: Iterable<RollupRow>,
  filter: TelemetryFilter,
  bucketMs: number,
): TimelineBucket[] {
  if (!Number.isSafeInteger(bucketMs) || bucketMs < MINUTE_MS || bucketMs % MINUTE_MS !== 0) {
    throw bmfError('BMF_ERR_BAD_REQUEST', {
      reason: `bucket ${bucketMs} ms is not a whole number of minutes`,
    });
  }
  const start = minuteOf(filter.fromMs);
  const n = Math.max(1, Math.ceil((filter.toMs - start) / bucketMs));
  if (n > MAX_BUCKETS) {
    throw bmfError('BMF_ERR_BAD_REQUEST', { reason: `${n} buckets (at most ${MAX_BUCKETS})` });
  }
  const acc = Array.from({ length: n }, () => ({
    rollup: emptyRollup(),
    devices: new Set<string>(),
  }));
  for (const row of rows) {
    const b = acc[Math.floor((row.minute - start) / bucketMs)];
    if (!b) continue;
    b.rollup.requests += row.rollup.requests;
    b.rollup.errors += row.rollup.errors;
    const c = b.rollup.counters;
    const r = row.rollup.counters;
    c.reports += r.reports;
    c.goldenTotal += r.goldenTotal;
    c.feedbackTotal += r.feedbackTotal;
    c.shadow.pairs += r.shadow.pairs;
    for (const [stage, k] of Object.entries(r.stageCounts)) {
      c.stageCounts[stage] = (c.stageCounts[stage] ?? 0) + k;
    }
    if (r.reports > 0) b.devices.add(row.deviceId);
  }
  return acc.map((b, i) => ({
    startMs: start + i * bucketMs,
    requests: b.rollup.requests,
    errors: b.rollup.errors,
    reports: b.rollup.counters.reports,
    devices: b.devices.size,
    goldenTotal: b.rollup.counters.goldenTotal,
    feedbackTotal: b.rollup.counters.feedbackTotal,
    shadowPairs: b.rollup.counters.shadow.pairs,
    stageCounts: b.rollup.counters.stageCounts,
  }));
}
