// telemetry_minute in SQLite (controller/store/migrations.ts): one row per (minute, device,
// bundle, variant). A flush upserts many rows in one transaction (one fsync under
// synchronous=FULL), merging with what is stored and re-encoding.
//
// Devices report for the minute that is open, so the same rows are upserted flush after flush
// until their minute closes. The store keeps what it last wrote for the newest two minutes of
// each (device, bundle, variant) and merges into that, instead of reading and decoding the row
// it has just written.
//
// INVARIANTS: this store is the only writer of telemetry_minute; a cached row equals the stored
// row; a failed transaction evicts every row it touched (their cached state may be ahead).
import type { Db } from '../store/db.js';
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

interface StoredRow {
  minute: number;
  device_id: string;
  bundle: string;
  variant: string;
  requests: number;
  errors: number;
  counters: string;
  sketches?: Buffer;
}

export function createTelemetryStore(db: Db) {
  const get = db.prepare(
    'SELECT requests, errors, counters, sketches FROM telemetry_minute WHERE minute = ? AND device_id = ? AND bundle = ? AND variant = ?',
  );
  const put = db.prepare(
    `INSERT INTO telemetry_minute(minute, device_id, bundle, variant, requests, errors, counters, sketches)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(minute, device_id, bundle, variant) DO UPDATE SET
       requests = excluded.requests, errors = excluded.errors,
       counters = excluded.counters, sketches = excluded.sketches`,
  );
  const pruneStmt = db.prepare('DELETE FROM telemetry_minute WHERE minute < ?');
  const firstMinuteStmt = db.prepare(
    `SELECT MIN(minute) AS first FROM telemetry_minute
     WHERE bundle = ? AND minute >= ? AND device_id IN (SELECT value FROM json_each(?))`,
  );

  function decodeRow(r: StoredRow): Rollup {
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
    const stored = get.get(key.minute, key.deviceId, key.bundle, key.variant) as
      StoredRow | undefined;
    return stored ? decodeRow(stored) : emptyRollup();
  }

  const upsertAll = db.transaction((rows: readonly RollupRow[], extra: () => void) => {
    for (const row of rows) {
      const { minute, deviceId, bundle, variant, rollup } = row;
      const key = rowKeyOf(row);
      const merged = written.get(key)?.row.rollup ?? storedRollup(row);
      mergeRollup(merged, rollup);
      put.run(
        minute,
        deviceId,
        bundle,
        variant,
        merged.requests,
        merged.errors,
        encodeCounters(merged.counters),
        encodeSketches(merged.sketches),
      );
      const series = `${deviceId}\n${bundle}\n${variant}`;
      written.set(key, { series, row: { minute, deviceId, bundle, variant, rollup: merged } });
      newestMinute.set(series, Math.max(minute, newestMinute.get(series) ?? minute));
    }
    extra();
  });

  function forgetOldMinutes(): void {
    for (const [key, { series, row }] of written) {
      if (row.minute < (newestMinute.get(series) ?? row.minute) - MINUTE_MS) written.delete(key);
    }
    if (written.size > MAX_WRITTEN_ROWS) written.clear(); // bounded memory; reads fall back to SQL
  }

  return {
    /** Merge `rows` into the table, and run `extra` (e.g. counter updates), in one transaction. */
    upsert(rows: readonly RollupRow[], extra: () => void = () => undefined): void {
      try {
        upsertAll(rows, extra);
      } catch (e) {
        for (const row of rows) written.delete(rowKeyOf(row));
        throw e;
      }
      forgetOldMinutes();
    },

    /** Rows matching the filter; sketches are decoded only when asked for. */
    select(filter: TelemetryFilter, withSketches: boolean, minuteFrom: number): RollupRow[] {
      const where = ['minute >= ?', 'minute < ?'];
      const args: unknown[] = [minuteFrom, filter.toMs];
      if (filter.deviceIds) {
        where.push('device_id IN (SELECT value FROM json_each(?))');
        args.push(JSON.stringify(filter.deviceIds));
      }
      if (filter.bundle !== undefined) {
        where.push('bundle = ?');
        args.push(filter.bundle);
      }
      if (filter.variant !== undefined) {
        where.push('variant = ?');
        args.push(filter.variant);
      }
      const cols = `minute, device_id, bundle, variant, requests, errors, counters${withSketches ? ', sketches' : ''}`;
      const rows = db
        .prepare(`SELECT ${cols} FROM telemetry_minute WHERE ${where.join(' AND ')}`)
        .all(...args) as StoredRow[];
      return rows.map((r) => ({
        minute: r.minute,
        deviceId: r.device_id,
        bundle: r.bundle,
        variant: r.variant,
        rollup: decodeRow(r),
      }));
    },

    /** The first minute at or after `fromMinute` where any of the devices reported `bundle`. */
    firstMinute(deviceIds: readonly string[], bundle: string, fromMinute: number) {
      const r = firstMinuteStmt.get(bundle, fromMinute, JSON.stringify(deviceIds)) as {
        first: number | null;
      };
      return r.first ?? undefined;
    },

    /** Delete minutes before `beforeMs`; returns the number of rows removed. */
    prune(beforeMs: number): number {
      for (const [key, { row }] of written) if (row.minute < beforeMs) written.delete(key);
      return pruneStmt.run(beforeMs).changes;
    },
  };
}

export type TelemetryStore = ReturnType<typeof createTelemetryStore>;
