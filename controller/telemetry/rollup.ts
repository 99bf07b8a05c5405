// The unit of telemetry aggregation: everything one or more TelemetryReports say about one
// (minute, device, bundle, variant), in a form that merges by addition. Latency is kept as
// DDSketches (shared/stats/sketch.ts), whose merge is exact bin-by-bin, so merging per-device
// rollups gives the same sketch as one built from the union of the samples (VLDB 2019, sec. 3).
// Accuracy counters stay paired (both/A-only/B-only/neither correct) because McNemar's test
// needs the discordant pairs, not just the agreement rate (issue 6).
import { addDriftCounters, type DriftCounters } from '../../shared/stats/drift.js';
import { LatencySketch } from '../../shared/stats/sketch.js';
import {
  emptyBoxAgreement,
  emptyDetectionOutput,
  mergeBoxAgreement,
  mergeDetectionOutput,
} from '../../shared/detect/agreement.js';
import type {
  DetectionOutput,
  DriftStats,
  ShadowBoxAgreement,
  TelemetryReport,
} from '../../shared/wire/messages.js';

export const MINUTE_MS = 60_000;

export interface ShadowCounters {
  pairs: number;
  top1Agree: number;
  cosineSum: number;
  /** Lowest cosine over intervals that had pairs; null when none had. */
  cosineMin: number | null;
  bothCorrect: number;
  aOnlyCorrect: number;
  bOnlyCorrect: number;
  bothWrong: number;
  /** A detector's shadow answers compared box by box (sums, as the wire carries them). */
  boxes: ShadowBoxAgreement;
}

/**
 * Where a report's latencies come from, from its `runtime` and `timing_mode` fields: `device`
 * (measured on the board by the vendor runtime), `host` (the simulator runtime, measured on the
 * machine that runs it), `modeled` (the simulator padded to the cost model's figure: the infer
 * stage, and so e2e, is a deterministic model output, not a measurement), `unknown` (neither).
 */
export type LatencySource = 'device' | 'host' | 'modeled' | 'unknown';

/**
 * The board's own TPU figures (libsophon's bm_get_stat, agent/runtime/types.ts) from the reports
 * that carried them; the simulator runtime cannot know them and sends none, so `reports` stays 0.
 */
export interface TpuCounters {
  reports: number;
  percentSum: number;
  percentMax: number | null;
  memUsedMaxBytes: number | null;
  /** The figures of the report whose interval ended last. */
  latest: TpuReading | null;
}

export interface TpuReading {
  atMs: number;
  percent: number;
  memUsedBytes: number;
  memTotalBytes: number;
}

export function latencySourceOf(runtime: string, timingMode: string): LatencySource {
  if (runtime === 'bmrt') return 'device';
  if (runtime === 'sim') return timingMode === 'modeled' ? 'modeled' : 'host';
  return 'unknown';
}

/** What the `counters` JSON column of telemetry_minute holds. */
export interface RollupCounters {
  reports: number;
  errorsByCode: Record<string, number>;
  shadowRequests: number;
  goldenCorrect: number;
  goldenTotal: number;
  /** Lowest golden cosine over intervals that ran the golden set; null when none did. */
  goldenCosineMin: number | null;
  feedbackCorrect: number;
  feedbackTotal: number;
  shadow: ShadowCounters;
  /** A detector's answers scored by ground-truth boxes at IoU 0.5 (feedback requests, TP, FP, FN). */
  detection: { feedback: number; tp: number; fp: number; fn: number };
  /** A detector's answers: images, boxes, boxes^2 per image and the score histogram. */
  detectionOutput: DetectionOutput;
  /** Samples per latency stage (the sketches' counts, kept for cheap timelines). */
  stageCounts: Record<string, number>;
  /** Input drift per `input/channel`. */
  drift: Record<string, DriftCounters>;
  /** Requests per latency source (rows written before it existed have none: `unknown`). */
  latencySources: Partial<Record<LatencySource, number>>;
  /** Device TPU utilisation and memory (rows written before it existed have reports 0). */
  tpu: TpuCounters;
  /**
   * Variant -> requests that failed before any model answered them (wire failed_before_model),
   * filed under the row of the report that carried them; rows before it existed have {}.
   */
  failedBeforeModel: Record<string, FailedRequests>;
}

/** Requests that failed before any model answered: counted, never served by a bundle. */
export interface FailedRequests {
  requests: number;
  errors: number;
  errorsByCode: Record<string, number>;
}

export interface Rollup {
  requests: number;
  errors: number;
  counters: RollupCounters;
  /** Stage name (e2e, preprocess, infer, postprocess) -> sketch of milliseconds. */
  sketches: Map<string, LatencySketch>;
}

export function minuteOf(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

export function emptyCounters(): RollupCounters {
  return {
    reports: 0,
    errorsByCode: {},
    shadowRequests: 0,
    goldenCorrect: 0,
    goldenTotal: 0,
    goldenCosineMin: null,
    feedbackCorrect: 0,
    feedbackTotal: 0,
    shadow: {
      pairs: 0,
      top1Agree: 0,
      cosineSum: 0,
      cosineMin: null,
      bothCorrect: 0,
      aOnlyCorrect: 0,
      bOnlyCorrect: 0,
      bothWrong: 0,
      boxes: emptyBoxAgreement(),
    },
    detection: { feedback: 0, tp: 0, fp: 0, fn: 0 },
    detectionOutput: emptyDetectionOutput(),
    stageCounts: {},
    drift: {},
    latencySources: {},
    tpu: emptyTpu(),
    failedBeforeModel: {},
  };
}

export function emptyTpu(): TpuCounters {
  return { reports: 0, percentSum: 0, percentMax: null, memUsedMaxBytes: null, latest: null };
}

function maxOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

/** Add `from` to `into` (mutates `into`): sums add, maxima take the larger, the later reading wins. */
function mergeTpu(into: TpuCounters, from: TpuCounters): void {
  into.reports += from.reports;
  into.percentSum += from.percentSum;
  into.percentMax = maxOrNull(into.percentMax, from.percentMax);
  into.memUsedMaxBytes = maxOrNull(into.memUsedMaxBytes, from.memUsedMaxBytes);
  if (from.latest && (!into.latest || from.latest.atMs > into.latest.atMs)) {
    into.latest = { ...from.latest };
  }
}

function addDetection(into: RollupCounters['detection'], from: RollupCounters['detection']): void {
  into.feedback += from.feedback;
  into.tp += from.tp;
  into.fp += from.fp;
  into.fn += from.fn;
}

export function emptyRollup(): Rollup {
  return { requests: 0, errors: 0, counters: emptyCounters(), sketches: new Map() };
}

function minOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

function addRecord(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Add failed-before-model counts per variant to `into` (mutates `into`). */
export function addFailedBeforeModel(
  into: Record<string, FailedRequests>,
  from: Readonly<Record<string, Readonly<FailedRequests>>>,
): void {
  for (const [variant, f] of Object.entries(from)) {
    const t = (into[variant] ??= { requests: 0, errors: 0, errorsByCode: {} });
    t.requests += f.requests;
    t.errors += f.errors;
    addRecord(t.errorsByCode, f.errorsByCode);
  }
}

function mergeDrift(into: DriftCounters | undefined, d: DriftCounters): DriftCounters {
  return into ? addDriftCounters(into, d) : { ...d };
}

/** Add `from`'s counters to `into` (mutates `into`). */
export function mergeCounters(into: RollupCounters, from: RollupCounters): void {
  into.reports += from.reports;
  addRecord(into.errorsByCode, from.errorsByCode);
  into.shadowRequests += from.shadowRequests;
  into.goldenCorrect += from.goldenCorrect;
  into.goldenTotal += from.goldenTotal;
  into.goldenCosineMin = minOrNull(into.goldenCosineMin, from.goldenCosineMin);
  into.feedbackCorrect += from.feedbackCorrect;
  into.feedbackTotal += from.feedbackTotal;
  const s = into.shadow;
  const f = from.shadow;
  s.pairs += f.pairs;
  s.top1Agree += f.top1Agree;
  s.cosineSum += f.cosineSum;
  s.cosineMin = minOrNull(s.cosineMin, f.cosineMin);
  s.bothCorrect += f.bothCorrect;
  s.aOnlyCorrect += f.aOnlyCorrect;
  s.bOnlyCorrect += f.bOnlyCorrect;
  s.bothWrong += f.bothWrong;
  mergeBoxAgreement(s.boxes, f.boxes);
  addDetection(into.detection, from.detection);
  mergeDetectionOutput(into.detectionOutput, from.detectionOutput);
  addRecord(into.stageCounts, from.stageCounts);
  for (const [k, d] of Object.entries(from.drift)) into.drift[k] = mergeDrift(into.drift[k], d);
  addRecord(into.latencySources, from.latencySources);
  mergeTpu(into.tpu, from.tpu);
  addFailedBeforeModel(into.failedBeforeModel, from.failedBeforeModel);
}

/** Add `from` to `into` (mutates `into`; `from` is unchanged). */
export function mergeRollup(into: Rollup, from: Rollup): void {
  into.requests += from.requests;
  into.errors += from.errors;
  mergeCounters(into.counters, from.counters);
  for (const [stage, sketch] of from.sketches) {
    const target = into.sketches.get(stage);
    if (target) target.merge(sketch);
    else {
      const copy = new LatencySketch();
      copy.merge(sketch);
      into.sketches.set(stage, copy);
    }
  }
}

function driftKey(d: DriftStats): string {
  return `${d.input}/${d.channel}`;
}

/**
 * Throws BMF_ERR_STATS_SKETCH unless every latency sketch of a decoded report (decodeMessage
 * has checked each for consistency) is on our mapping, so it can be merged. Checked at the
 * edge, before any part of the report is added anywhere: a bad report never leaves a rollup
 * half merged.
 */
export function checkReportSketches(r: TelemetryReport): void {
  for (const m of Object.values(r.latency)) LatencySketch.checkMapping(m);
}

/**
 * Add one decoded report that passed checkReportSketches to `into` (mutates `into`). The sketch
 * messages merge bin by bin into the rollup's sketches, so ingesting a report builds no sketch
 * of its own.
 */
export function addReport(into: Rollup, r: TelemetryReport): void {
  const a = r.accuracy;
  const c = into.counters;
  into.requests += r.counters.requests;
  into.errors += r.counters.errors;
  c.reports += 1;
  addRecord(c.errorsByCode, r.counters.errorsByCode);
  const source = latencySourceOf(r.runtime, r.timingMode);
  c.latencySources[source] = (c.latencySources[source] ?? 0) + r.counters.requests;
  c.shadowRequests += r.counters.shadowRequests;
  c.goldenCorrect += a.goldenCorrect;
  c.goldenTotal += a.goldenTotal;
  // Absent is absent: a report without golden samples or shadow pairs has no cosine. Agents
  // from before these fields were optional send 0 there; the counts tell that 0 apart.
  c.goldenCosineMin = minOrNull(
    c.goldenCosineMin,
    a.goldenTotal > 0 ? (a.goldenCosineMin ?? null) : null,
  );
  c.feedbackCorrect += a.feedbackCorrect;
  c.feedbackTotal += a.feedbackTotal;
  const s = c.shadow;
  const f = a.shadow;
  s.pairs += f.pairs;
  s.top1Agree += f.top1Agree;
  s.cosineSum += f.cosineSum;
  s.cosineMin = minOrNull(s.cosineMin, f.pairs > 0 ? (f.cosineMin ?? null) : null);
  s.bothCorrect += f.bothCorrect;
  s.aOnlyCorrect += f.aOnlyCorrect;
  s.bOnlyCorrect += f.bOnlyCorrect;
  s.bothWrong += f.bothWrong;
  if (f.boxes) mergeBoxAgreement(s.boxes, f.boxes);
  if (a.detection) addDetection(c.detection, a.detection);
  if (a.detectionOutput) mergeDetectionOutput(c.detectionOutput, a.detectionOutput);
  for (const [stage, m] of Object.entries(r.latency)) {
    let sketch = into.sketches.get(stage);
    if (!sketch) {
      sketch = new LatencySketch();
      into.sketches.set(stage, sketch);
    }
    sketch.mergeCheckedMessage(m);
    c.stageCounts[stage] = (c.stageCounts[stage] ?? 0) + m.count;
  }
  for (const d of r.drift) {
    const { input: _input, channel: _channel, ...stats } = d;
    c.drift[driftKey(d)] = mergeDrift(c.drift[driftKey(d)], stats);
  }
  // Not in requests/errors: those are the bundle's, and rollout health reads them.
  if (r.failedBeforeModel) addFailedBeforeModel(c.failedBeforeModel, r.failedBeforeModel);
  const dev = r.device;
  if (dev.tpuPercent !== undefined) {
    const reading: TpuReading = {
      atMs: r.intervalEndMs,
      percent: dev.tpuPercent,
      memUsedBytes: dev.tpuMemUsedBytes ?? 0,
      memTotalBytes: dev.tpuMemTotalBytes ?? 0,
    };
    mergeTpu(c.tpu, {
      reports: 1,
      percentSum: reading.percent,
      percentMax: reading.percent,
      memUsedMaxBytes: reading.memUsedBytes,
      latest: reading,
    });
  }
}
