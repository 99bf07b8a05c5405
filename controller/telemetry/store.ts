// Telemetry rollups over the store's telemetry_minute table (controller/store/telemetry.ts): one
// row per (minute, device, bundle, variant). A flush upserts many rows in one transaction (one
// fsync under synchronous=FULL), merging with what is stored and re-encoding.
//
// Devices report for the minute that is open, so the same rows are upserted flush after flush
// until their minute closes. The store keeps what it last wrote for the newest two minutes of
// each (device, bundle, variant) and merges into that, instead of reading and decoding the row
// it has just written.
//
// INVARIANTS: this store is the only writer of telemetry_minute; a cached row equals the stored
// row; a failed write evicts every row it touched (their cached state may be ahead).
import type { EncodedMinute, SeenReport, TelemetryRepo } from '../store/telemetry.js';
import { decodeCounters, decodeSketches, encodeCounters, encodeSketches } from './rollup-codec.js';
import { emptyRollup, mergeRollup, MINUTE_MS, type Rollup } from './rollup.js';

/** Rows whose last written state is kept (a few per device; beyond this the cache resets). */
const MAX_WRITTEN_ROWS = 50_000;

export interface RollupKey {
  readonly minute: number;
  readonly deviceId: string;
  readonly bundle: string;
  readonly variant: string;
}

export interface RollupRow extends RollupKey {
  readonly rollup: Rollup;
}

/** The identity of a row as one string (map keys). */
export function rowKeyOf(k: RollupKey): string {
  return `${k.minute}\n${k.deviceId}\n${k.bundle}\n${k.variant}`;
}

export interface TelemetryFilter {
  readonly deviceIds?: readonly string[];
  readonly bundle?: string;
  readonly variant?: string;
  /** Minutes whose start lies in [minuteOf(fromMs), toMs) are included. */
  readonly fromMs: number;
  readonly toMs: number;
}

/** Written in the same transaction as a flush's rows. */
export interface FlushExtras {
  readonly seen?: readonly SeenReport[];
  readonly counters?: Readonly<Record<string, number>>;
}

export function createTelemetryStore(repo: TelemetryRepo) {
  function decodeRow(r: EncodedMinute): Rollup {
    return {
      requests: r.requests,
      errors: r.errors,
      counters: decodeCounters(r.counters),
      sketches: r.sketches ? decodeSketches(r.sketches) : new Map(),
    };
  }

  /** Key -> what the table holds for it (newest minutes of each series only). */
  const written = new Map<string, { readonly series: string; readonly row: RollupRow }>();
  /** Series (device, bundle, variant) -> newest minute written. */
  const newestMinute = new Map<string, number>();

  function storedRollup(key: RollupKey): Rollup {
    const stored = repo.getMinute(key);
    return stored ? decodeRow(stored) : emptyRollup();
  }

  function forgetOldMinutes(): void {
    for (const [key, { series, row }] of written) {
      if (row.minute < (newestMinute.get(series) ?? row.minute) - MINUTE_MS) written.delete(key);
    }
    if (written.size > MAX_WRITTEN_ROWS) written.clear(); // bounded memory; reads fall back to SQL
  }

  return {
    /** Merge `rows` into the table, with `extras` (seen report keys, counters), in one transaction. */
    upsert(rows: readonly RollupRow[], extras: FlushExtras = {}): void {
      try {
        const merged = rows.map((row): RollupRow => {
          const rollup = written.get(rowKeyOf(row))?.row.rollup ?? storedRollup(row);
          mergeRollup(rollup, row.rollup);
          const { minute, deviceId, bundle, variant } = row;
          const series = `${deviceId}\n${bundle}\n${variant}`;
          const stored = { minute, deviceId, bundle, variant, rollup };
          written.set(rowKeyOf(row), { series, row: stored });
          newestMinute.set(series, Math.max(minute, newestMinute.get(series) ?? minute));
          return stored;
        });
        repo.writeBatch({
          minutes: merged.map((m) => ({
            minute: m.minute,
            deviceId: m.deviceId,
            bundle: m.bundle,
            variant: m.variant,
            requests: m.rollup.requests,
            errors: m.rollup.errors,
            counters: encodeCounters(m.rollup.counters),
            sketches: encodeSketches(m.rollup.sketches),
          })),
          seen: extras.seen ?? [],
          counters: extras.counters ?? {},
        });
      } catch (e) {
        for (const row of rows) written.delete(rowKeyOf(row));
        throw e;
      }
      forgetOldMinutes();
    },

    /** Rows matching the filter; sketches are decoded only when asked for. */
    select(filter: TelemetryFilter, withSketches: boolean, minuteFrom: number): RollupRow[] {
      const rows = repo.selectMinutes(
        {
          fromMinute: minuteFrom,
          toMs: filter.toMs,
          ...(filter.deviceIds ? { deviceIds: filter.deviceIds } : {}),
          ...(filter.bundle !== undefined ? { bundle: filter.bundle } : {}),
          ...(filter.variant !== undefined ? { variant: filter.variant } : {}),
        },
        withSketches,
      );
      return rows.map((r) => ({
        minute: r.minute,
        deviceId: r.deviceId,
        bundle: r.bundle,
        variant: r.variant,
        rollup: decodeRow(r),
      }));
    },

    /** The first minute at or after `fromMinute` where any of the devices reported `bundle`. */
    firstMinute(deviceIds: readonly string[], bundle: string, fromMinute: number) {
      return repo.firstMinute(deviceIds, bundle, fromMinute);
    },

    /** Delete minutes before `beforeMs`; returns the number of rows removed. */
    prune(beforeMs: number): number {
      for (const [key, { row }] of written) if (row.minute < beforeMs) written.delete(key);
      return repo.pruneMinutes(beforeMs);
    },
  };
}

export type TelemetryStore = ReturnType<typeof createTelemetryStore>;
