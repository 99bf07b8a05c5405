// Pure views over merged rollups: the summary a REST query returns, the merged sketches the
// experiment statistics read, and per-bucket counts for "sample size over time".
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

export interface StageLatency {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

export interface DriftSummary {
  readonly input: string;
  readonly channel: number;
  readonly count: number;
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
  readonly clippedLow: number;
  readonly clippedHigh: number;
}

export interface TelemetrySummary {
  readonly requests: number;
  readonly errors: number;
  /** errors / requests; 0 when there were no requests. */
  readonly errorRate: number;
  readonly errorsByCode: Readonly<Record<string, number>>;
  /** Stages with at least one sample. */
  readonly latency: Readonly<Record<string, StageLatency>>;
  readonly accuracy: {
    readonly golden: {
      readonly correct: number;
      readonly total: number;
      readonly cosineMin?: number;
    };
    readonly shadow: {
      readonly agree: number;
      readonly total: number;
      readonly cosineMean?: number;
      readonly cosineMin?: number;
      /** Paired labelled outcomes (A = the served variant, B = the shadow), for McNemar. */
      readonly bothCorrect: number;
      readonly aOnlyCorrect: number;
      readonly bOnlyCorrect: number;
      readonly bothWrong: number;
      readonly requests: number;
    };
    readonly feedback: { readonly correct: number; readonly total: number };
    /** Detectors: box matches at IoU 0.5 from ground-truth feedback, when any arrived. */
    readonly detection?: {
      readonly feedback: number;
      readonly tp: number;
      readonly fp: number;
      readonly fn: number;
    };
  };
  readonly drift: readonly DriftSummary[];
  /** Distinct devices with at least one report in the range. */
  readonly devices: number;
  readonly reports: number;
  /** Requests per latency source (rollup.ts): measured on the device, on this host, or modeled. */
  readonly latencySources: Readonly<Partial<Record<LatencySource, number>>>;
}

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
    const mean = d.count > 0 ? d.sum / d.count : NaN;
    const variance = d.count > 0 ? Math.max(0, d.sumSq / d.count - mean * mean) : NaN;
    return {
      input: key.slice(0, cut),
      channel: Number(key.slice(cut + 1)),
      count: d.count,
      mean,
      std: Math.sqrt(variance),
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
        ...(c.goldenCosineMin !== null ? { cosineMin: c.goldenCosineMin } : {}),
      },
      shadow: {
        agree: s.top1Agree,
        total: s.pairs,
        ...(s.pairs > 0 ? { cosineMean: s.cosineSum / s.pairs } : {}),
        ...(s.cosineMin !== null ? { cosineMin: s.cosineMin } : {}),
        bothCorrect: s.bothCorrect,
        aOnlyCorrect: s.aOnlyCorrect,
        bOnlyCorrect: s.bOnlyCorrect,
        bothWrong: s.bothWrong,
        requests: c.shadowRequests,
      },
      feedback: { correct: c.feedbackCorrect, total: c.feedbackTotal },
      ...(c.detection.feedback > 0 && { detection: { ...c.detection } }),
    },
    drift,
    devices,
    reports: c.reports,
    latencySources: sourcesOf(rollup),
  };
}

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
