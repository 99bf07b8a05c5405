// Telemetry tables: telemetry_minute (one row per minute, device, bundle and variant, with its
// counters and latency sketches encoded) and telemetry_seen (keys of the reports already merged,
// so a report delivered twice counts once). A batch writes rows, seen keys and counter increments
// in one transaction: one fsync per flush, and a report is never stored without its key.
import { ADD_COUNTER_SQL } from './counters.js';
import type { Db } from './db.js';
import type { Answer, StoreMode } from './repository.js';

export interface MinuteKey {
  readonly minute: number;
  readonly deviceId: string;
  readonly bundle: string;
  readonly variant: string;
}

/** A telemetry_minute row with its counters (JSON) and sketches (bytes) encoded. */
export interface EncodedMinute extends MinuteKey {
  readonly requests: number;
  readonly errors: number;
  readonly counters: string;
  /** Absent when not asked for. */
  readonly sketches?: Uint8Array;
}

export interface MinuteQuery {
  readonly fromMinute: number;
  readonly toMs: number;
  readonly deviceIds?: readonly string[];
  readonly bundle?: string;
  readonly variant?: string;
}

export interface SeenReport {
  readonly deviceId: string;
  readonly key: string;
  readonly intervalStart: number;
}

export interface TelemetryBatch {
  readonly minutes: readonly EncodedMinute[];
  readonly seen: readonly SeenReport[];
  /** Named counter increments (controller/store/counters.ts). */
  readonly counters: Readonly<Record<string, number>>;
}

/** Rows to add to what is stored (one flush of one writer; several writers may add at once). */
export interface MinuteDelta extends MinuteKey {
  readonly requests: number;
  readonly errors: number;
  /** Counters and sketches of the row when nothing is stored for it yet. */
  readonly counters: string;
  readonly sketches: Uint8Array;
  /** Counters and sketches of the row once this delta is added to the stored row. */
  readonly mergeInto: (stored: EncodedMinute) => { counters: string; sketches: Uint8Array };
}

export interface MergeBatch {
  /** Keys of the reports the rows are made of. */
  readonly seen: readonly SeenReport[];
  /**
   * The rows and counters to add, given which of `seen` the store did not hold yet (by
   * `seenId`); a report whose key is stored already was stored by another writer (or an
   * earlier life of this one) and adds nothing. Pure: may be called again when retried.
   */
  readonly build: (fresh: ReadonlySet<string>) => {
    readonly minutes: readonly MinuteDelta[];
    readonly counters: Readonly<Record<string, number>>;
  };
}

export const seenId = (deviceId: string, key: string): string => `${deviceId}\n${key}`;

export interface TelemetryRepo<M extends StoreMode = 'sync'> {
  getMinute(key: MinuteKey): Answer<M, EncodedMinute | undefined>;
  /** Upsert (replace) every row, insert the seen keys, add the counters: all or nothing. */
  writeBatch(batch: TelemetryBatch): Answer<M, void>;
  /**
   * Insert the seen keys, add the rows made of the fresh ones to the stored rows, add the
   * counters: all or nothing, and correct with any number of writers adding to the same rows
   * (a stored row is locked while its sum is written). Answers how many keys were fresh.
   */
  addBatch(batch: MergeBatch): Answer<M, number>;
  selectMinutes(q: MinuteQuery, withSketches: boolean): Answer<M, EncodedMinute[]>;
  /** The first minute at or after `fromMinute` where any of the devices reported `bundle`. */
  firstMinute(
    deviceIds: readonly string[],
    bundle: string,
    fromMinute: number,
  ): Answer<M, number | undefined>;
  /** Delete minutes before `beforeMinute`; returns how many rows. */
  pruneMinutes(beforeMinute: number): Answer<M, number>;
  /** The device's newest `limit` seen keys, oldest first. */
  seenKeys(deviceId: string, limit: number): Answer<M, string[]>;
  pruneSeen(beforeMs: number): Answer<M, number>;
}

interface Row {
  minute: number;
  device_id: string;
  bundle: string;
  variant: string;
  requests: number;
  errors: number;
  counters: string;
  sketches?: Buffer;
}

export const toEncodedMinute = (r: Row): EncodedMinute => ({
  minute: Number(r.minute),
  deviceId: r.device_id,
  bundle: r.bundle,
  variant: r.variant,
  requests: Number(r.requests),
  errors: Number(r.errors),
  counters: r.counters,
  ...(r.sketches ? { sketches: new Uint8Array(r.sketches) } : {}),
});

/**
 * Writes one telemetry_minute row whole (writeBatch), in both stores: `$name` parameters, bound by
 * name in SQLite and numbered for PostgreSQL by pgParameters (postgres/repos.ts).
 */
export const PUT_MINUTE_SQL = `INSERT INTO telemetry_minute(minute, device_id, bundle, variant, requests, errors, counters, sketches)
  VALUES ($minute, $device_id, $bundle, $variant, $requests, $errors, $counters, $sketches)
  ON CONFLICT(minute, device_id, bundle, variant) DO UPDATE SET
    requests = excluded.requests, errors = excluded.errors,
    counters = excluded.counters, sketches = excluded.sketches`;

/** The other way: a telemetry_minute row's values, named as PUT_MINUTE_SQL's parameters. */
export const toMinuteParams = (m: EncodedMinute) => ({
  minute: m.minute,
  device_id: m.deviceId,
  bundle: m.bundle,
  variant: m.variant,
  requests: m.requests,
  errors: m.errors,
  counters: m.counters,
  sketches: Buffer.from(m.sketches ?? new Uint8Array()),
});

export function createTelemetryRepo(db: Db): TelemetryRepo<'sync'> {
  const q = {
    get: db.prepare(
      'SELECT * FROM telemetry_minute WHERE minute = ? AND device_id = ? AND bundle = ? AND variant = ?',
    ),
    add: db.prepare(
      `INSERT INTO telemetry_minute(minute, device_id, bundle, variant, requests, errors, counters, sketches)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(minute, device_id, bundle, variant) DO UPDATE SET
         requests = telemetry_minute.requests + excluded.requests,
         errors = telemetry_minute.errors + excluded.errors,
         counters = ?, sketches = ?`,
    ),
    put: db.prepare(PUT_MINUTE_SQL),
    prune: db.prepare('DELETE FROM telemetry_minute WHERE minute < ?'),
    firstMinute: db.prepare(
      `SELECT MIN(minute) AS first FROM telemetry_minute
       WHERE bundle = ? AND minute >= ? AND device_id IN (SELECT value FROM json_each(?))`,
    ),
    seen: db.prepare(
      'SELECT key FROM telemetry_seen WHERE device_id = ? ORDER BY interval_start DESC LIMIT ?',
    ),
    insertSeen: db.prepare(
      'INSERT OR IGNORE INTO telemetry_seen(device_id, key, interval_start) VALUES (?, ?, ?)',
    ),
    pruneSeen: db.prepare('DELETE FROM telemetry_seen WHERE interval_start < ?'),
    addCounter: db.prepare(ADD_COUNTER_SQL),
  };
  const write = db.transaction((b: TelemetryBatch) => {
    for (const m of b.minutes) q.put.run(toMinuteParams(m));
    for (const s of b.seen) q.insertSeen.run(s.deviceId, s.key, s.intervalStart);
    for (const [name, n] of Object.entries(b.counters)) q.addCounter.run(name, n);
  });
  // One process writes the SQLite file, inside one transaction: reading the row and writing its
  // sum cannot interleave with another writer.
  const add = db.transaction((b: MergeBatch): number => {
    const fresh = new Set<string>();
    for (const s of b.seen) {
      if (q.insertSeen.run(s.deviceId, s.key, s.intervalStart).changes > 0) {
        fresh.add(seenId(s.deviceId, s.key));
      }
    }
    const { minutes, counters } = b.build(fresh);
    for (const m of minutes) {
      const r = q.get.get(m.minute, m.deviceId, m.bundle, m.variant) as Row | undefined;
      const sum = r ? m.mergeInto(toEncodedMinute(r)) : m;
      const sketches = Buffer.from(sum.sketches);
      q.add.run(
        m.minute,
        m.deviceId,
        m.bundle,
        m.variant,
        m.requests,
        m.errors,
        sum.counters,
        sketches,
        sum.counters,
        sketches,
      );
    }
    for (const [name, n] of Object.entries(counters)) q.addCounter.run(name, n);
    return fresh.size;
  });
  return {
    addBatch(b) {
      return add(b);
    },
    getMinute(k) {
      const r = q.get.get(k.minute, k.deviceId, k.bundle, k.variant) as Row | undefined;
      return r ? toEncodedMinute(r) : undefined;
    },
    writeBatch(b) {
      write(b);
    },
    selectMinutes(f, withSketches) {
      const where = ['minute >= ?', 'minute < ?'];
      const args: unknown[] = [f.fromMinute, f.toMs];
      if (f.deviceIds) {
        where.push('device_id IN (SELECT value FROM json_each(?))');
        args.push(JSON.stringify(f.deviceIds));
      }
      if (f.bundle !== undefined) {
        where.push('bundle = ?');
        args.push(f.bundle);
      }
      if (f.variant !== undefined) {
        where.push('variant = ?');
        args.push(f.variant);
      }
      const cols = `minute, device_id, bundle, variant, requests, errors, counters${withSketches ? ', sketches' : ''}`;
      const rows = db
        .prepare(`SELECT ${cols} FROM telemetry_minute WHERE ${where.join(' AND ')}`)
        .all(...args) as Row[];
      return rows.map(toEncodedMinute);
    },
    firstMinute(deviceIds, bundle, fromMinute) {
      const r = q.firstMinute.get(bundle, fromMinute, JSON.stringify(deviceIds)) as {
        first: number | null;
      };
      return r.first ?? undefined;
    },
    pruneMinutes(beforeMinute) {
      return q.prune.run(beforeMinute).changes;
    },
    seenKeys(deviceId, limit) {
      return (q.seen.all(deviceId, limit) as { key: string }[]).map((r) => r.key).reverse();
    },
    pruneSeen(beforeMs) {
      return q.pruneSeen.run(beforeMs).changes;
    },
  };
}
