// The PostgreSQL implementations of the store's repository interfaces (the 'async' mode). Same
// tables and the same answers as the SQLite ones beside them; BIGINT columns come back from pg
// as strings and are turned into numbers by the same row mappers.
import type pg from 'pg';
import type { AssignmentRepo } from '../assignments.js';
import { toAssignmentRow } from '../assignments.js';
import type { BundleRepo } from '../bundles.js';
import { INSERT_BUNDLE_SQL, toBundleParams, toStoredBundle } from '../bundles.js';
import type { CounterRepo } from '../counters.js';
import type { DeviceEventRepo } from '../device-events.js';
import { toDeviceEventRow } from '../device-events.js';
import type { ExperimentRepo } from '../experiments.js';
import { toExperimentRecord } from '../experiments.js';
import type { MergeBatch, MinuteDelta, TelemetryRepo } from '../telemetry.js';
import { PUT_MINUTE_SQL, seenId, toEncodedMinute, toMinuteParams } from '../telemetry.js';
import { bmfError } from '../../../shared/errors.js';
import type { DeviceRepo, DeviceRow } from '../devices.js';
import {
  newDeviceCredentials,
  secretMatches,
  SET_STATE_SQL,
  storedOrder,
  toDeviceRecord,
} from '../devices.js';
import type { RolloutRepo } from '../rollouts.js';
import type { SessionRepo, SessionRow } from '../sessions.js';
import { toStoredSession, TRIM_SESSIONS_SQL } from '../sessions.js';
import { toRolloutEvent, toRolloutRecord } from '../rollouts.js';
import type { PgLease } from './lease.js';
import type { PgStore } from './open.js';

/**
 * Writes made under a lease: each runs in a transaction that checks the lease's fencing token
 * first (lease.ts). Reads are not fenced.
 */
export interface Fence {
  readonly lease: PgLease;
  /** The token this replica holds now. */
  readonly token: () => number;
}

function writer(store: PgStore, fence: Fence | undefined) {
  return <T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> =>
    fence ? fence.lease.fenced(fence.token(), fn) : store.transaction(fn);
}

const DEADLOCK_DETECTED = '40P01';

const keyOrder = (a: MinuteDelta, b: MinuteDelta): number =>
  a.minute - b.minute ||
  (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0) ||
  (a.bundle < b.bundle ? -1 : a.bundle > b.bundle ? 1 : 0) ||
  (a.variant < b.variant ? -1 : a.variant > b.variant ? 1 : 0);

/**
 * One flush of telemetry from one writer, while other replicas flush theirs:
 * 1. the report keys go in first (ON CONFLICT DO NOTHING): a key another writer stored is a
 *    duplicate, and its report is left out of the rows;
 * 2. rows not stored yet are inserted as they are; where another writer inserts the same row at
 *    the same moment, the insert waits for it to commit and then conflicts (DO NOTHING);
 * 3. the rows that conflicted are locked (SELECT ... FOR UPDATE, in key order, so two flushes
 *    lock in one order) and their sums written: requests and errors are added in SQL, counters
 *    and sketches merged from the locked row, so no other writer's counts are lost in between.
 */
async function addBatchIn(c: pg.PoolClient, b: MergeBatch): Promise<number> {
  const fresh = new Set<string>();
  if (b.seen.length > 0) {
    const r = await c.query<{ device_id: string; key: string }>(
      `INSERT INTO telemetry_seen(device_id, key, interval_start)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
       ON CONFLICT DO NOTHING RETURNING device_id, key`,
      [b.seen.map((s) => s.deviceId), b.seen.map((s) => s.key), b.seen.map((s) => s.intervalStart)],
    );
    for (const row of r.rows) fresh.add(seenId(row.device_id, row.key));
  }
  const { minutes, counters } = b.build(fresh);
  const rows = [...minutes].sort(keyOrder);
  if (rows.length > 0) {
    const cols = (list: readonly MinuteDelta[]) => [
      list.map((m) => m.minute),
      list.map((m) => m.deviceId),
      list.map((m) => m.bundle),
      list.map((m) => m.variant),
    ];
    const inserted = await c.query<{
      minute: string;
      device_id: string;
      bundle: string;
      variant: string;
    }>(
      `INSERT INTO telemetry_minute(minute, device_id, bundle, variant, requests, errors, counters, sketches)
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                            $6::bigint[], $7::text[], $8::bytea[])
       ON CONFLICT DO NOTHING RETURNING minute, device_id, bundle, variant`,
      [
        ...cols(rows),
        rows.map((m) => m.requests),
        rows.map((m) => m.errors),
        rows.map((m) => m.counters),
        rows.map((m) => Buffer.from(m.sketches)),
      ],
    );
    const done = new Set(
      inserted.rows.map((r) => `${r.minute}\n${r.device_id}\n${r.bundle}\n${r.variant}`),
    );
    const rest = rows.filter(
      (m) => !done.has(`${m.minute}\n${m.deviceId}\n${m.bundle}\n${m.variant}`),
    );
    if (rest.length > 0) {
      const locked = await c.query(
        `SELECT t.* FROM telemetry_minute t
         JOIN unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS k(minute, device_id, bundle, variant)
           USING (minute, device_id, bundle, variant)
         ORDER BY t.minute, t.device_id, t.bundle, t.variant
         FOR UPDATE OF t`,
        cols(rest),
      );
      const stored = new Map(
        locked.rows.map((r) => {
          const e = toEncodedMinute(r);
          return [`${e.minute}\n${e.deviceId}\n${e.bundle}\n${e.variant}`, e];
        }),
      );
      const sums = rest.map((m) => {
        const s = stored.get(`${m.minute}\n${m.deviceId}\n${m.bundle}\n${m.variant}`);
        if (!s)
          throw bmfError('BMF_ERR_STORE', { reason: 'telemetry_minute row vanished while locked' });
        return m.mergeInto(s);
      });
      await c.query(
        `UPDATE telemetry_minute t SET
           requests = t.requests + d.requests, errors = t.errors + d.errors,
           counters = d.counters, sketches = d.sketches
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                     $6::bigint[], $7::text[], $8::bytea[])
           AS d(minute, device_id, bundle, variant, requests, errors, counters, sketches)
         WHERE t.minute = d.minute AND t.device_id = d.device_id AND t.bundle = d.bundle
           AND t.variant = d.variant`,
        [
          ...cols(rest),
          rest.map((m) => m.requests),
          rest.map((m) => m.errors),
          sums.map((x) => x.counters),
          sums.map((x) => Buffer.from(x.sketches)),
        ],
      );
    }
  }
  for (const [name, n] of Object.entries(counters)) await c.query(ADD_COUNTER, [name, n]);
  return fresh.size;
}

const ADD_COUNTER =
  'INSERT INTO counters(name, value) VALUES ($1, $2) ON CONFLICT(name) DO UPDATE SET value = counters.value + excluded.value';

export function pgCounters(store: PgStore): CounterRepo<'async'> {
  return {
    async add(name, by = 1) {
      await store.pool.query(ADD_COUNTER, [name, by]);
    },
    async addAll(increments) {
      const list = [...increments];
      await store.transaction(async (c) => {
        for (const [name, n] of list) await c.query(ADD_COUNTER, [name, n]);
      });
    },
    async all() {
      const r = await store.pool.query<{ name: string; value: string }>(
        'SELECT name, value FROM counters ORDER BY name',
      );
      return Object.fromEntries(r.rows.map((row) => [row.name, Number(row.value)]));
    },
  };
}

export function pgDeviceEvents(store: PgStore): DeviceEventRepo<'async'> {
  const q = store.pool;
  return {
    async insert(e) {
      await q.query(
        'INSERT INTO device_events(device_id, at, severity, code, message, details) VALUES ($1, $2, $3, $4, $5, $6)',
        [e.deviceId, e.at, e.severity, e.code, e.message, JSON.stringify(e.details)],
      );
    },
    async trim(deviceId, keep) {
      await q.query(
        `DELETE FROM device_events WHERE device_id = $1 AND id <= (
           SELECT id FROM device_events WHERE device_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)`,
        [deviceId, keep],
      );
    },
    async pruneBefore(at) {
      return (await q.query('DELETE FROM device_events WHERE at < $1', [at])).rowCount ?? 0;
    },
    async page(deviceId, before, limit) {
      const r = await q.query(
        'SELECT * FROM device_events WHERE device_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3',
        [deviceId, before, limit],
      );
      return r.rows.map(toDeviceEventRow);
    },
    async recent(limit) {
      const r = await q.query('SELECT * FROM device_events ORDER BY id DESC LIMIT $1', [limit]);
      return r.rows.map(toDeviceEventRow);
    },
    async latestInstallFailure(deviceId) {
      const r = await q.query<{ at: string; code: string; bundle: string }>(
        `SELECT at, code, details::json->>'bundleDigest' AS bundle FROM device_events
         WHERE device_id = $1 AND COALESCE(details::json->>'bundleDigest', '') != ''
           AND (code LIKE 'BMF\\_ERR\\_%' OR code = 'BMF_EVT_ROLLED_BACK')
         ORDER BY id DESC LIMIT 1`,
        [deviceId],
      );
      const row = r.rows[0];
      return row ? { at: Number(row.at), code: row.code, bundle: row.bundle } : undefined;
    },
  };
}

export function pgExperiments(store: PgStore, fence?: Fence): ExperimentRepo<'async'> {
  const q = store.pool;
  const write = writer(store, fence);
  return {
    async insert(spec, state, now) {
      const r = await write((c) =>
        c.query(
          'INSERT INTO experiments(id, spec, state, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT(id) DO NOTHING',
          [spec.id, JSON.stringify(spec), JSON.stringify(state), state.status, now, now],
        ),
      );
      return (r.rowCount ?? 0) > 0;
    },
    async update(id, state, now) {
      await write((c) =>
        c.query('UPDATE experiments SET state = $1, status = $2, updated_at = $3 WHERE id = $4', [
          JSON.stringify(state),
          state.status,
          now,
          id,
        ]),
      );
    },
    async get(id) {
      const r = await q.query<{ spec: string; state: string }>(
        'SELECT spec, state FROM experiments WHERE id = $1',
        [id],
      );
      return r.rows[0] ? toExperimentRecord(r.rows[0]) : undefined;
    },
    async list() {
      const r = await q.query<{ spec: string; state: string }>(
        'SELECT spec, state FROM experiments ORDER BY created_at, id',
      );
      return r.rows.map(toExperimentRecord);
    },
  };
}

export function pgAssignments(store: PgStore): AssignmentRepo<'async'> {
  return {
    async latest(deviceId) {
      const r = await store.pool.query(
        'SELECT * FROM assignments WHERE device_id = $1 ORDER BY sequence DESC LIMIT 1',
        [deviceId],
      );
      return r.rows[0] ? toAssignmentRow(r.rows[0]) : undefined;
    },
    async latestPerDevice() {
      const r = await store.pool.query(
        'SELECT DISTINCT ON (device_id) * FROM assignments ORDER BY device_id, sequence DESC',
      );
      return r.rows.map(toAssignmentRow);
    },
    async appendEach(items, deviceOf, make) {
      return store.transaction(async (c) => {
        const out = [];
        for (const item of items) {
          // A savepoint per item: one that fails writes nothing and leaves the others.
          await c.query('SAVEPOINT item');
          try {
            const device = deviceOf(item);
            // Serialises writers of the same device across replicas until commit.
            await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`assignment:${device}`]);
            const m = await c.query<{ s: string | null }>(
              'SELECT MAX(sequence) AS s FROM assignments WHERE device_id = $1',
              [device],
            );
            const row = make(item, Number(m.rows[0]?.s ?? 0));
            await c.query(
              'INSERT INTO assignments(device_id, sequence, body, envelope, created_at) VALUES ($1, $2, $3, $4, $5)',
              [row.deviceId, row.sequence, row.body, Buffer.from(row.envelope), row.createdAt],
            );
            await c.query('RELEASE SAVEPOINT item');
            out.push({ ok: true as const, value: row });
          } catch (error) {
            await c.query('ROLLBACK TO SAVEPOINT item');
            out.push({ ok: false as const, error });
          }
        }
        return out;
      });
    },
  };
}

export function pgBundles(store: PgStore): BundleRepo<'async'> {
  const q = store.pool;
  const rows = async (sql: string, args: unknown[] = []) =>
    (await q.query(sql, args)).rows.map(toStoredBundle);
  return {
    async get(digest) {
      return (await rows('SELECT * FROM bundles WHERE digest = $1', [digest]))[0];
    },
    list(model) {
      return model === undefined
        ? rows('SELECT * FROM bundles ORDER BY model, sequence')
        : rows('SELECT * FROM bundles WHERE model = $1 ORDER BY sequence', [model]);
    },
    sameVersionOrSequence(model, version, sequence) {
      return rows('SELECT * FROM bundles WHERE model = $1 AND (version = $2 OR sequence = $3)', [
        model,
        version,
        sequence,
      ]);
    },
    async models() {
      const r = await q.query<{ name: string; created_at: string; n: string }>(
        'SELECT m.name, m.created_at, COUNT(b.digest) AS n FROM models m LEFT JOIN bundles b ON b.model = m.name GROUP BY m.name, m.created_at ORDER BY m.name',
      );
      return r.rows.map((m) => ({
        name: m.name,
        createdAt: Number(m.created_at),
        bundles: Number(m.n),
      }));
    },
    async latestOf(model) {
      return (
        await rows('SELECT * FROM bundles WHERE model = $1 ORDER BY sequence DESC LIMIT 1', [model])
      )[0];
    },
    async digestsStartingWith(prefix, limit) {
      const r = await q.query<{ digest: string }>(
        'SELECT digest FROM bundles WHERE substr(digest, 1, $1) = $2 ORDER BY digest LIMIT $3',
        [prefix.length, prefix, limit],
      );
      return r.rows.map((row) => row.digest);
    },
    async insert(b, blobs) {
      await store.transaction(async (c) => {
        await c.query(
          'INSERT INTO models(name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING',
          [b.model, b.createdAt],
        );
        await c.query(insertBundle.sql, insertBundle.values(toBundleParams(b)));
        for (const f of blobs) {
          await c.query(
            'INSERT INTO blobs(digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
            [f.sha256, f.size, b.createdAt],
          );
        }
      });
    },
    async blobSize(sha256) {
      const r = await q.query<{ size: string }>('SELECT size FROM blobs WHERE digest = $1', [
        sha256,
      ]);
      return r.rows[0] ? Number(r.rows[0].size) : undefined;
    },
  };
}

export function pgTelemetry(store: PgStore): TelemetryRepo<'async'> {
  const q = store.pool;
  return {
    async getMinute(k) {
      const r = await q.query(
        'SELECT * FROM telemetry_minute WHERE minute = $1 AND device_id = $2 AND bundle = $3 AND variant = $4',
        [k.minute, k.deviceId, k.bundle, k.variant],
      );
      return r.rows[0] ? toEncodedMinute(r.rows[0]) : undefined;
    },
    async addBatch(b) {
      // Two transactions that lock rows in different orders can deadlock; PostgreSQL then
      // aborts one (40P01), which is retried here: the batch is pure and nothing was committed.
      for (let attempt = 1; ; attempt++) {
        try {
          return await store.transaction((c) => addBatchIn(c, b));
        } catch (e) {
          if (attempt >= 5 || (e as { code?: string }).code !== DEADLOCK_DETECTED) throw e;
        }
      }
    },
    async writeBatch(b) {
      await store.transaction(async (c) => {
        for (const m of b.minutes) {
          await c.query(putMinute.sql, putMinute.values(toMinuteParams(m)));
        }
        for (const s of b.seen) {
          await c.query(
            'INSERT INTO telemetry_seen(device_id, key, interval_start) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
            [s.deviceId, s.key, s.intervalStart],
          );
        }
        for (const [name, n] of Object.entries(b.counters)) await c.query(ADD_COUNTER, [name, n]);
      });
    },
    async selectMinutes(f, withSketches) {
      const where = ['minute >= $1', 'minute < $2'];
      const args: unknown[] = [f.fromMinute, f.toMs];
      if (f.deviceIds) {
        args.push([...f.deviceIds]);
        where.push(`device_id = ANY($${args.length})`);
      }
      if (f.bundle !== undefined) {
        args.push(f.bundle);
        where.push(`bundle = $${args.length}`);
      }
      if (f.variant !== undefined) {
        args.push(f.variant);
        where.push(`variant = $${args.length}`);
      }
      const cols = `minute, device_id, bundle, variant, requests, errors, counters${withSketches ? ', sketches' : ''}`;
      const r = await q.query(
        `SELECT ${cols} FROM telemetry_minute WHERE ${where.join(' AND ')}`,
        args,
      );
      return r.rows.map(toEncodedMinute);
    },
    async firstMinute(deviceIds, bundle, fromMinute) {
      const r = await q.query<{ first: string | null }>(
        'SELECT MIN(minute) AS first FROM telemetry_minute WHERE bundle = $1 AND minute >= $2 AND device_id = ANY($3)',
        [bundle, fromMinute, [...deviceIds]],
      );
      const first = r.rows[0]?.first;
      return first === null || first === undefined ? undefined : Number(first);
    },
    async pruneMinutes(beforeMinute) {
      return (
        (await q.query('DELETE FROM telemetry_minute WHERE minute < $1', [beforeMinute]))
          .rowCount ?? 0
      );
    },
    async seenKeys(deviceId, limit) {
      const r = await q.query<{ key: string }>(
        'SELECT key FROM telemetry_seen WHERE device_id = $1 ORDER BY interval_start DESC LIMIT $2',
        [deviceId, limit],
      );
      return r.rows.map((row) => row.key).reverse();
    },
    async pruneSeen(beforeMs) {
      return (
        (await q.query('DELETE FROM telemetry_seen WHERE interval_start < $1', [beforeMs]))
          .rowCount ?? 0
      );
    },
  };
}

export function pgRollouts(store: PgStore, fence?: Fence): RolloutRepo<'async'> {
  const q = store.pool;
  const write = writer(store, fence);
  async function get(id: string) {
    const r = await q.query('SELECT * FROM rollouts WHERE id = $1', [id]);
    return r.rows[0] ? toRolloutRecord(r.rows[0]) : undefined;
  }
  return {
    async create(spec, state, now) {
      const r = await write((c) =>
        c.query(
          'INSERT INTO rollouts(id, spec, state, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT(id) DO NOTHING',
          [spec.id, JSON.stringify(spec), JSON.stringify(state), state.status, now, now],
        ),
      );
      if (r.rowCount === 0) {
        throw bmfError('BMF_ERR_CONFLICT', { kind: 'rollout', id: spec.id, reason: 'exists' });
      }
    },
    get,
    async require(id) {
      const r = await get(id);
      if (!r) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'rollout', id });
      return r;
    },
    async list() {
      const r = await q.query('SELECT * FROM rollouts ORDER BY created_at DESC, id');
      return r.rows.map(toRolloutRecord);
    },
    async running() {
      const r = await q.query(
        "SELECT * FROM rollouts WHERE status = 'running' ORDER BY created_at",
      );
      return r.rows.map(toRolloutRecord);
    },
    async save(id, state, newEvents) {
      await write(async (c) => {
        await c.query(
          'UPDATE rollouts SET state = $1, status = $2, updated_at = $3 WHERE id = $4',
          [JSON.stringify(state), state.status, state.updatedAt, id],
        );
        for (const e of newEvents) {
          await c.query(
            'INSERT INTO rollout_events(rollout_id, at, type, device_id, message) VALUES ($1, $2, $3, $4, $5)',
            [id, state.updatedAt, e.type, e.deviceId ?? null, e.message],
          );
        }
      });
    },
    async events(id, afterId = 0, limit = 500) {
      const r = await q.query(
        'SELECT id, at, type, device_id, message FROM rollout_events WHERE rollout_id = $1 AND id > $2 ORDER BY id LIMIT $3',
        [id, afterId, limit],
      );
      return r.rows.map(toRolloutEvent);
    },
  };
}

/** SQL written with `$name` parameters, numbered for pg in order of first use. */
export function pgParameters(sql: string) {
  const names: string[] = [];
  const numbered = sql.replace(/\$([a-z_]+)/g, (_m, name: string) => {
    if (!names.includes(name)) names.push(name);
    return `$${names.indexOf(name) + 1}`;
  });
  return {
    sql: numbered,
    values: (v: Record<string, unknown>) => names.map((n) => v[n]),
  };
}

const setState = pgParameters(SET_STATE_SQL);
const putMinute = pgParameters(PUT_MINUTE_SQL);
const insertBundle = pgParameters(INSERT_BUNDLE_SQL);

/** Devices, written through (no write-behind queue: each update is its own statement). */
export function pgDevices(store: PgStore): DeviceRepo<'async'> {
  const q = store.pool;
  async function row(id: string): Promise<DeviceRow | undefined> {
    return (await q.query<DeviceRow>('SELECT * FROM devices WHERE id = $1', [id])).rows[0];
  }
  return {
    async add(id, chip, tags, now) {
      const { secret, salt, hash } = newDeviceCredentials(id);
      const r = await q.query(
        'INSERT INTO devices(id, chip, tags, secret_salt, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT(id) DO NOTHING',
        [id, chip, JSON.stringify(tags), salt, hash, now],
      );
      if (r.rowCount === 0) {
        throw bmfError('BMF_ERR_CONFLICT', { kind: 'device', id, reason: 'exists' });
      }
      return { secret };
    },
    async get(id) {
      const r = await row(id);
      return r ? toDeviceRecord(r) : undefined;
    },
    async require(id) {
      const r = await row(id);
      if (!r) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'device', id });
      return toDeviceRecord(r);
    },
    async list() {
      return (await q.query<DeviceRow>('SELECT * FROM devices ORDER BY id')).rows.map(
        toDeviceRecord,
      );
    },
    async authenticate(id, secret) {
      const r = await row(id);
      return r ? secretMatches(r, secret) : false;
    },
    async setPresence(id, online, now) {
      await q.query('UPDATE devices SET online = $1, last_seen = $2 WHERE id = $3', [
        online ? 1 : 0,
        now,
        id,
      ]);
    },
    async setState(id, value, order, now) {
      const { boot, seq } = storedOrder(order);
      // The row is locked by the UPDATE, so of two replicas writing one device's states at once
      // the second compares with what the first committed.
      const r = await q.query(
        setState.sql,
        setState.values({ state: JSON.stringify(value), boot, seq, at: now, id }),
      );
      return (r.rowCount ?? 0) > 0;
    },
    async remove(id) {
      return ((await q.query('DELETE FROM devices WHERE id = $1', [id])).rowCount ?? 0) > 0;
    },
    async markAllOffline() {
      await q.query('UPDATE devices SET online = 0');
    },
    async flush() {
      // Nothing queued: every update above is written when it is made.
    },
  };
}

export function pgSessions(store: PgStore): SessionRepo<'async'> {
  return {
    async insert(s, now, max) {
      await store.transaction(async (c) => {
        await c.query(
          'INSERT INTO dashboard_sessions(id_hash, role, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
          [s.idHash, s.role, s.csrf, s.createdAt, s.expiresAt],
        );
        await c.query('DELETE FROM dashboard_sessions WHERE expires_at <= $1', [now]);
        await c.query(TRIM_SESSIONS_SQL.replace('$max', '$1'), [max]);
      });
    },
    async get(idHash, now) {
      const r = await store.pool.query<SessionRow>(
        'SELECT * FROM dashboard_sessions WHERE id_hash = $1 AND expires_at > $2',
        [idHash, now],
      );
      return r.rows[0] ? toStoredSession(r.rows[0]) : undefined;
    },
    async remove(idHash) {
      await store.pool.query('DELETE FROM dashboard_sessions WHERE id_hash = $1', [idHash]);
    },
  };
}
