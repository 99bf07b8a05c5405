// Telemetry ingestion and queries (issue 5, "Telemetry"). Thin shell around the pure parts:
// decode.ts (edge), rollup.ts (merge), summary.ts (views), store.ts (either store), metrics.ts
// (Prometheus). Reports merge in memory per (minute, device, bundle, variant) and are added
// to telemetry_minute in one transaction per flush; queries merge stored and pending rows, so
// they are current without forcing a flush (and its fsync) on every read.
//
// Several replicas (docs/scaling.md) may run this service on one PostgreSQL store: each adds
// its own flushes to the stored rows (the store sums under the row's lock), and the report keys
// go in with the rows, so a report redelivered to another replica is stored once. The in-memory
// duplicate check (dedup.ts) only saves the store a round trip for this replica's own repeats.
//
// Durability: ingestStored() resolves once the report is in the table (group commit: the first
// waiter schedules a flush `commitDelayMs` later, and every report merged by then is committed
// in that one transaction). The embedded broker acknowledges a report (PUBACK) only then, so a
// crash loses no acknowledged report; the device resends what was not acknowledged, and the
// report keys stored with the rollups (dedup.ts) recognise what was stored but not acknowledged.
//
// INVARIANTS: one flush in flight at a time, and a query's read of the table and of `pending`
// never overlaps a flush (both run through `serial`), so stored + pending is this replica's
// whole truth; a failed flush puts its rows, reports and waiters back before rethrowing; a
// waiter is resolved only by a flush that began after its report was merged.
import type { Registry } from 'prom-client';
import { runAfter, runEvery, type Clock, type Timer } from '../../shared/clock.js';
import { toBmfError, type BmfError } from '../../shared/errors.js';
import type { LatencySketch } from '../../shared/stats/sketch.js';
import type { TelemetryReport } from '../../shared/wire/messages.js';
import type { GroupHealth } from '../rollout/model.js';
import type { StoreMode } from '../store/repository.js';
import { seenId, type TelemetryRepo } from '../store/telemetry.js';
import { decodeTelemetry, type DropReason } from './decode.js';
import { createReportDedup, reportKey } from './dedup.js';
import { createTelemetryMetrics, type BundleInfo, type DeviceGauges } from './metrics.js';
import { addReport, emptyRollup, mergeRollup, MINUTE_MS, minuteOf, type Rollup } from './rollup.js';
import {
  createTelemetryStore,
  rowKeyOf,
  type RollupKey,
  type RollupRow,
  type TelemetryFilter,
} from './store.js';
import {
  checkFilter,
  mergeRows,
  summarize,
  timeline,
  type TelemetrySummary,
  type TimelineBucket,
} from './summary.js';

export type { TelemetryFilter } from './store.js';
export type { TelemetrySummary, TimelineBucket, StageLatency, DriftSummary } from './summary.js';
export type { BundleInfo, DeviceGauges } from './metrics.js';
export type { DropReason } from './decode.js';

export type IngestResult = 'accepted' | 'duplicate' | DropReason;

export interface TelemetryServiceOptions {
  /** Rollups, seen report keys and the telemetry.* counters (written with them). */
  readonly store: TelemetryRepo<StoreMode>;
  /** Stamps and windows reports and drives the commit, flush and prune timers. */
  readonly clock: Pick<Clock, 'wallNow' | 'sleep'>;
  /** Rollups older than this are pruned, and reports older than this are dropped. */
  readonly retentionMs?: number;
  /** 0 disables the flush timer (call flush() yourself). */
  readonly flushIntervalMs?: number;
  /** 0 disables the prune timer. */
  readonly pruneIntervalMs?: number;
  /** Window of the latency and accuracy gauges on /metrics. */
  readonly metricsWindowMs?: number;
  readonly maxReportBytes?: number;
  /** How far ahead of the controller's clock a report's interval may start. */
  readonly maxClockSkewMs?: number;
  /** Flush early when this many rows are pending (bounds memory under bursts). */
  readonly maxPendingRows?: number;
  readonly dedupPerDevice?: number;
  /** How long the first report waiting to be stored waits for others to share its commit. */
  readonly commitDelayMs?: number;
  readonly bundleInfo?: (digest: string) => BundleInfo | undefined;
  readonly deviceGauges?: () => DeviceGauges | Promise<DeviceGauges>;
  /** Labels on every series of /metrics (the replica id). */
  readonly metricLabels?: Readonly<Record<string, string>>;
  readonly onDropped?: (deviceId: string, reason: DropReason, message: string) => void;
  /** Errors of timer-driven flushes and prunes (they have no caller to throw to). */
  readonly onError?: (err: BmfError) => void;
}

export interface TelemetryStats {
  readonly accepted: number;
  readonly duplicate: number;
  readonly dropped: Readonly<Record<string, number>>;
  readonly pendingRows: number;
}

const DAY_MS = 24 * 3_600_000;

interface RecentSeries {
  readonly bundle: string;
  readonly variant: string;
  readonly rollup: Rollup;
}

const HOUR_MS = 3_600_000;

interface Waiter {
  /** The report waited for (seenId); resolved true when the store held it already. */
  readonly id: string | undefined;
  readonly resolve: (storedBefore: boolean) => void;
  readonly reject: (e: unknown) => void;
}

/** A row not yet stored, with the reports it is made of (left out if another writer stored them). */
interface PendingRow {
  readonly row: RollupRow;
  readonly reports: { readonly key: string; readonly report: TelemetryReport }[];
}

export function createTelemetryService(opts: TelemetryServiceOptions) {
  const { clock } = opts;
  const repo = opts.store;
  const retentionMs = opts.retentionMs ?? 7 * DAY_MS;
  const metricsWindowMs = opts.metricsWindowMs ?? 5 * MINUTE_MS;
  const maxClockSkewMs = opts.maxClockSkewMs ?? 10 * MINUTE_MS;
  const maxPendingRows = opts.maxPendingRows ?? 20_000;
  const store = createTelemetryStore(repo);
  const commitDelayMs = opts.commitDelayMs ?? 10;
  const dedup = createReportDedup(opts.dedupPerDevice);
  /** Callers of ingestStored() waiting for the next commit. */
  let waiters: Waiter[] = [];
  let commitTimer: Timer | undefined;

  let pending = new Map<string, PendingRow>();
  /** The tail of the flushes and queries run one after another (see INVARIANTS). */
  let tail: Promise<unknown> = Promise.resolve();
  /** A flush queued behind `tail` and not started: later callers share it. */
  let queuedFlush: Promise<void> | undefined;

  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  }
  /** Since start, per bundle and variant, for the Prometheus counters. */
  const totals = new Map<
    string,
    { bundle: string; variant: string; requests: number; errors: number }
  >();
  /** minute -> bundle/variant -> rollup merged over devices, for the gauges. */
  const recent = new Map<number, Map<string, RecentSeries>>();
  const dropped: Record<string, number> = {};
  let unflushedDropped: Record<string, number> = {};
  let unflushedDuplicates = 0;
  let accepted = 0;
  let duplicate = 0;

  function drop(deviceId: string, reason: DropReason, message: string): DropReason {
    dropped[reason] = (dropped[reason] ?? 0) + 1;
    unflushedDropped[reason] = (unflushedDropped[reason] ?? 0) + 1;
    opts.onDropped?.(deviceId, reason, message);
    return reason;
  }

  /** Add an accepted report to the Prometheus totals (cheap, so current on every report). */
  function countTotals(row: RollupKey, r: TelemetryReport): void {
    const seriesKey = `${row.bundle}\n${row.variant}`;
    const t = totals.get(seriesKey) ?? {
      bundle: row.bundle,
      variant: row.variant,
      requests: 0,
      errors: 0,
    };
    t.requests += r.counters.requests;
    t.errors += r.counters.errors;
    totals.set(seriesKey, t);
  }

  /**
   * Add rows to the recent window of the gauges. Called for rows as they are flushed (once per
   * row, not per report); a scrape adds what is still pending.
   */
  function addRecent(
    into: Map<number, Map<string, RecentSeries>>,
    rows: Iterable<RollupRow>,
  ): void {
    for (const row of rows) {
      const seriesKey = `${row.bundle}\n${row.variant}`;
      let minute = into.get(row.minute);
      if (!minute) {
        minute = new Map();
        into.set(row.minute, minute);
      }
      const m = minute.get(seriesKey) ?? {
        bundle: row.bundle,
        variant: row.variant,
        rollup: emptyRollup(),
      };
      mergeRollup(m.rollup, row.rollup);
      minute.set(seriesKey, m);
    }
  }

  function ingestUnsafe(deviceId: string, payload: Uint8Array): [IngestResult, string?] {
    const now = clock.wallNow();
    const d = decodeTelemetry(deviceId, payload, {
      ...(opts.maxReportBytes !== undefined ? { maxBytes: opts.maxReportBytes } : {}),
      oldestMs: now - retentionMs,
      newestMs: now + maxClockSkewMs,
    });
    if (!d.ok) return [drop(deviceId, d.reason, d.message)];
    const r = d.report;
    const key = reportKey(r);
    if (!dedup.firstSeen(deviceId, key)) {
      duplicate++;
      unflushedDuplicates++;
      return ['duplicate'];
    }
    const minute = minuteOf(r.intervalStartMs);
    const rowKey = rowKeyOf({ minute, deviceId, bundle: r.bundleDigest, variant: r.variant });
    let entry = pending.get(rowKey);
    if (!entry) {
      const bundle = r.bundleDigest;
      const row = { minute, deviceId, bundle, variant: r.variant, rollup: emptyRollup() };
      entry = { row, reports: [] };
      pending.set(rowKey, entry);
    }
    addReport(entry.row.rollup, r);
    entry.reports.push({ key, report: r });
    countTotals(entry.row, r);
    accepted++;
    if (pending.size >= maxPendingRows) {
      // The rows stay pending when it fails; the timer retries.
      flush().catch((e: unknown) => opts.onError?.(toBmfError(e)));
    }
    return ['accepted', seenId(deviceId, key)];
  }

  /** Add what is pending to the table; one flush at a time, later callers share a queued one. */
  function flush(): Promise<void> {
    queuedFlush ??= serial(() => {
      queuedFlush = undefined;
      return flushNow();
    });
    return queuedFlush;
  }

  async function flushNow(): Promise<void> {
    commitTimer?.cancel();
    commitTimer = undefined;
    const waitersNow = waiters;
    waiters = [];
    if (
      pending.size === 0 &&
      unflushedDuplicates === 0 &&
      Object.keys(unflushedDropped).length === 0
    ) {
      for (const w of waitersNow) w.resolve(false);
      return;
    }
    const entries = [...pending.values()];
    const droppedNow = unflushedDropped;
    const duplicatesNow = unflushedDuplicates;
    pending = new Map();
    unflushedDropped = {};
    unflushedDuplicates = 0;
    const seen = entries.flatMap((e) =>
      e.reports.map(({ key, report }) => ({
        deviceId: e.row.deviceId,
        key,
        intervalStart: report.intervalStartMs,
      })),
    );
    let stored: readonly RollupRow[] = [];
    let storedBefore = 0;
    const staleIds = new Set<string>();
    try {
      await store.add({
        seen,
        build: (fresh) => {
          const rows: RollupRow[] = [];
          storedBefore = 0;
          staleIds.clear();
          for (const { row, reports } of entries) {
            const kept: typeof reports = [];
            for (const r of reports) {
              const id = seenId(row.deviceId, r.key);
              if (fresh.has(id)) kept.push(r);
              else staleIds.add(id);
            }
            storedBefore += reports.length - kept.length;
            if (kept.length === reports.length) {
              rows.push(row);
            } else if (kept.length > 0) {
              const rollup = emptyRollup();
              for (const r of kept) addReport(rollup, r.report);
              rows.push({ ...row, rollup });
            }
          }
          const counters: Record<string, number> = {};
          for (const [reason, n] of Object.entries(droppedNow)) {
            counters[`telemetry.dropped.${reason}`] = n;
          }
          if (duplicatesNow + storedBefore > 0) {
            counters['telemetry.duplicates'] = duplicatesNow + storedBefore;
          }
          stored = rows;
          return { rows, counters };
        },
      });
    } catch (e) {
      // Put everything back (merging with what arrived meanwhile) so nothing is lost.
      for (const entry of entries) {
        const key = rowKeyOf(entry.row);
        const cur = pending.get(key);
        if (cur) {
          mergeRollup(entry.row.rollup, cur.row.rollup);
          entry.reports.push(...cur.reports);
        }
        pending.set(key, entry);
      }
      for (const [reason, n] of Object.entries(droppedNow)) {
        unflushedDropped[reason] = (unflushedDropped[reason] ?? 0) + n;
      }
      unflushedDuplicates += duplicatesNow;
      waiters = waitersNow.concat(waiters);
      scheduleCommit(Math.max(commitDelayMs, 100)); // retried; the reports stay unacknowledged
      throw toBmfError(e);
    }
    // Reports another writer had stored were duplicates, not accepted ones.
    accepted -= storedBefore;
    duplicate += storedBefore;
    for (const w of waitersNow) w.resolve(w.id !== undefined && staleIds.has(w.id));
    addRecent(recent, stored);
    pruneRecent(clock.wallNow());
  }

  function scheduleCommit(ms: number): void {
    if (commitTimer || closed) return;
    const failed = (e: unknown) => opts.onError?.(toBmfError(e));
    commitTimer = runAfter(
      clock,
      ms,
      () => {
        commitTimer = undefined;
        flush().catch(failed);
      },
      { onError: failed },
    );
  }

  /** Resolves after the next commit (everything merged so far is then stored). */
  function whenStored(id: string | undefined): Promise<boolean> {
    if (closed) return Promise.reject(toBmfError(new Error('telemetry service closed')));
    return new Promise((resolve, reject) => {
      waiters.push({ id, resolve, reject });
      scheduleCommit(commitDelayMs);
    });
  }
  let closed = false;

  function pendingRows(filter: TelemetryFilter): RollupRow[] {
    const from = minuteOf(filter.fromMs);
    const ids = filter.deviceIds ? new Set(filter.deviceIds) : undefined;
    const out: RollupRow[] = [];
    for (const { row } of pending.values()) {
      if (row.minute < from || row.minute >= filter.toMs) continue;
      if (ids && !ids.has(row.deviceId)) continue;
      if (filter.bundle !== undefined && row.bundle !== filter.bundle) continue;
      if (filter.variant !== undefined && row.variant !== filter.variant) continue;
      out.push(row);
    }
    return out;
  }

  async function rowsOf(filter: TelemetryFilter, withSketches: boolean): Promise<RollupRow[]> {
    checkFilter(filter);
    if (filter.deviceIds?.length === 0) return [];
    return serial(async () => [
      ...(await store.select(filter, withSketches, minuteOf(filter.fromMs))),
      ...pendingRows(filter),
    ]);
  }

  function firstMinuteOf(deviceIds: readonly string[], bundle: string, fromMinute: number) {
    return serial(async () => {
      let first = await store.firstMinute(deviceIds, bundle, fromMinute);
      const ids = new Set(deviceIds);
      for (const { row } of pending.values()) {
        if (row.bundle === bundle && ids.has(row.deviceId) && row.minute >= fromMinute) {
          first = first === undefined ? row.minute : Math.min(first, row.minute);
        }
      }
      return first;
    });
  }

  async function p95Of(filter: TelemetryFilter): Promise<number | undefined> {
    const e2e = mergeRows(await rowsOf(filter, true)).rollup.sketches.get('e2e');
    return e2e && e2e.count > 0 ? e2e.quantile(0.95) : undefined;
  }

  function pruneRecent(now: number): void {
    const oldest = minuteOf(now - metricsWindowMs);
    for (const minute of recent.keys()) if (minute < oldest) recent.delete(minute);
  }

  function ingestOne(deviceId: string, payload: Uint8Array): [IngestResult, string?] {
    try {
      return ingestUnsafe(deviceId, payload);
    } catch (e) {
      return [drop(deviceId, 'internal', e instanceof Error ? e.message : String(e))];
    }
  }

  const timers: Timer[] = [];
  function every(ms: number, f: () => Promise<unknown>): void {
    if (ms <= 0) return;
    const onError = (e: unknown) => opts.onError?.(toBmfError(e));
    timers.push(runEvery(clock, ms, () => void f().catch(onError), { keepAlive: false, onError }));
  }

  const service = {
    /**
     * Take one report as published on the device's telemetry topic. Never throws: a bad report
     * is counted (telemetry.dropped.<reason>) and its reason returned.
     */
    ingest(deviceId: string, payload: Uint8Array): IngestResult {
      return ingestOne(deviceId, payload)[0];
    },

    /**
     * ingest(), then wait until what it accepted (or recognised as a duplicate, whose first copy
     * may still be pending) is committed. Rejects when the commit fails: the caller must not
     * acknowledge the report then.
     */
    async ingestStored(deviceId: string, payload: Uint8Array): Promise<IngestResult> {
      const [result, id] = ingestOne(deviceId, payload);
      if (result !== 'accepted' && result !== 'duplicate') return result;
      // A report another replica (or an earlier life of this one) stored is a duplicate.
      return (await whenStored(id)) ? 'duplicate' : result;
    },

    /** Add pending rollups and counters to the table in one transaction. */
    flush,

    /** Delete rollups older than the retention; returns the number of rows removed. */
    async prune(): Promise<number> {
      const now = clock.wallNow();
      pruneRecent(now);
      await repo.pruneSeen(now - retentionMs);
      return store.prune(minuteOf(now - retentionMs));
    },

    /** Merged telemetry over the filter (stored and not yet flushed). */
    async query(filter: TelemetryFilter): Promise<TelemetrySummary> {
      const { rollup, devices } = mergeRows(await rowsOf(filter, true));
      return summarize(rollup, devices);
    },

    /** Merged latency sketch per stage (e2e, preprocess, infer, postprocess). */
    async sketches(filter: TelemetryFilter): Promise<Record<string, LatencySketch>> {
      return Object.fromEntries(mergeRows(await rowsOf(filter, true)).rollup.sketches);
    },

    /** Per-bucket counts over the filter's range; bucketMs is a whole number of minutes. */
    async timeline(filter: TelemetryFilter, bucketMs: number): Promise<TimelineBucket[]> {
      return timeline(await rowsOf(filter, false), filter, bucketMs);
    },

    /**
     * Health of a rollout group on `bundle` since `sinceMs` (controller/rollout executor's
     * groupHealth). Accuracy is golden-set accuracy, else shadow top-1 agreement, else feedback.
     * baselineP95Ms is `baselineBundle`'s e2e p95 on the same devices over the hour before the
     * new bundle first reported there (or, without data there, over the last hour).
     */
    async groupHealth(
      deviceIds: readonly string[],
      bundle: string,
      sinceMs: number,
      baselineBundle?: string,
    ): Promise<GroupHealth> {
      const now = clock.wallNow();
      const horizon = now + maxClockSkewMs + MINUTE_MS;
      const cur = await service.query({ deviceIds, bundle, fromMs: sinceMs, toMs: horizon });
      const a = cur.accuracy;
      const accuracy =
        a.golden.total > 0
          ? a.golden.correct / a.golden.total
          : a.shadow.total > 0
            ? a.shadow.agree / a.shadow.total
            : a.feedback.total > 0
              ? a.feedback.correct / a.feedback.total
              : undefined;
      const p95Ms = cur.latency.e2e?.p95;
      let baselineP95Ms: number | undefined;
      if (baselineBundle !== undefined && deviceIds.length > 0) {
        const first = await firstMinuteOf(deviceIds, bundle, minuteOf(sinceMs - HOUR_MS));
        const end = Math.min(first ?? sinceMs, sinceMs);
        const base = { deviceIds, bundle: baselineBundle };
        baselineP95Ms =
          (await p95Of({ ...base, fromMs: end - HOUR_MS, toMs: end })) ??
          (await p95Of({ ...base, fromMs: now - HOUR_MS, toMs: horizon }));
      }
      return {
        requests: cur.requests,
        errorRate: cur.errorRate,
        ...(p95Ms !== undefined ? { p95Ms } : {}),
        ...(baselineP95Ms !== undefined ? { baselineP95Ms } : {}),
        ...(accuracy !== undefined ? { accuracy } : {}),
      };
    },

    stats(): TelemetryStats {
      return { accepted, duplicate, dropped: { ...dropped }, pendingRows: pending.size };
    },

    metricsRegistry(): Registry {
      return registry;
    },

    /** Prometheus text exposition of this service's registry. */
    renderMetrics(): Promise<string> {
      return registry.metrics();
    },

    metricsContentType(): string {
      return registry.contentType;
    },

    /** Stop the timers and write what is pending. */
    async close(): Promise<void> {
      for (const t of timers.splice(0)) t.cancel();
      try {
        await flush();
      } finally {
        closed = true;
        commitTimer?.cancel();
        commitTimer = undefined;
      }
    },
  };

  const registry = createTelemetryMetrics({
    totals: () => totals.values(),
    recent: () => {
      const now = clock.wallNow();
      pruneRecent(now);
      const oldest = minuteOf(now - metricsWindowMs);
      const merged = new Map<string, RecentSeries>();
      const add = (r: RecentSeries) => {
        const k = `${r.bundle}\n${r.variant}`;
        const m = merged.get(k) ?? { bundle: r.bundle, variant: r.variant, rollup: emptyRollup() };
        mergeRollup(m.rollup, r.rollup);
        merged.set(k, m);
      };
      for (const minute of recent.values()) for (const r of minute.values()) add(r);
      for (const { row } of pending.values()) if (row.minute >= oldest) add(row);
      return merged.values();
    },
    reports: () => ({ accepted, duplicate }),
    dropped: () => dropped,
    ...(opts.bundleInfo ? { bundleInfo: opts.bundleInfo } : {}),
    ...(opts.deviceGauges ? { deviceGauges: opts.deviceGauges } : {}),
    ...(opts.metricLabels ? { labels: opts.metricLabels } : {}),
  });

  every(opts.flushIntervalMs ?? 1000, flush);
  every(opts.pruneIntervalMs ?? 10 * MINUTE_MS, () => service.prune());
  return service;
}

export type TelemetryService = ReturnType<typeof createTelemetryService>;
