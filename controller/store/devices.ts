// Device identities. A device authenticates to the broker with its id and a random secret; only
// a salted SHA-256 of the secret is stored (the secret is 256 random bits, so a slow password
// hash buys nothing and would cost a second of CPU per thousand reconnecting devices).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createSystemClock, runAfter, type Clock, type Timer } from '../../shared/clock.js';
import { bmfError } from '../../shared/errors.js';
import { DEVICE_ID_PATTERN, isDeviceId, parseDeviceId, type DeviceId } from '../../shared/ids.js';
import { CONTROLLER_USERNAME, isReservedClientId } from '../broker/acl.js';
import type { StateOrder } from '../../shared/wire/messages.js';
import type { Db } from './db.js';
import type { Answer, StoreMode } from './repository.js';

export interface DeviceRecord {
  /** Checked when the device was added (newDeviceCredentials); rows hold no other. */
  readonly id: DeviceId;
  readonly chip: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly createdAt: number;
  readonly lastSeen: number | null;
  readonly online: boolean;
  /** Last state the device reported (decoded DeviceState), if any. */
  readonly state: Readonly<Record<string, unknown>> | null;
}

export interface DeviceRepo<M extends StoreMode = 'sync'> {
  /** Create a device and return its one-time secret (never stored in clear). */
  add(
    id: string,
    chip: string,
    tags: Record<string, string>,
    now: number,
  ): Answer<M, { secret: string }>;
  get(id: string): Answer<M, DeviceRecord | undefined>;
  /** BMF_ERR_NOT_FOUND when absent. */
  require(id: string): Answer<M, DeviceRecord>;
  list(): Answer<M, DeviceRecord[]>;
  authenticate(id: string, secret: string): Answer<M, boolean>;
  setPresence(id: string, online: boolean, now: number): Answer<M, void>;
  /**
   * Store a reported state unless the stored one is newer in the device's own order
   * (SET_STATE_SQL); false when it was left out as older.
   */
  setState(
    id: string,
    value: Record<string, unknown>,
    order: StateOrder,
    now: number,
  ): Answer<M, boolean>;
  remove(id: string): Answer<M, boolean>;
  /** On start-up nobody is connected yet; presence is rebuilt from connections. */
  markAllOffline(): Answer<M, void>;
  /** Write queued presence and state now (before the database closes). */
  flush(): Answer<M, void>;
}

export interface DeviceRow {
  id: string;
  chip: string;
  tags: string;
  secret_salt: string;
  secret_hash: string;
  created_at: number;
  last_seen: number | null;
  online: number;
  state: string | null;
  state_boot: string | null;
  state_seq: number | string | null;
}

export function isValidDeviceId(id: string): boolean {
  return isDeviceId(id);
}

function hashSecret(salt: string, secret: string): Buffer {
  return createHash('sha256').update(salt).update(secret).digest();
}

type Row = DeviceRow;

/** A new device's id checked, and its secret with the salted hash that is stored. */
export function newDeviceCredentials(id: string): { secret: string; salt: string; hash: string } {
  if (!isValidDeviceId(id)) {
    throw bmfError('BMF_ERR_BAD_REQUEST', {
      reason: `device id "${id}" must match ${DEVICE_ID_PATTERN}`,
    });
  }
  if (isReservedClientId(id)) {
    throw bmfError('BMF_ERR_DEVICE_ID_RESERVED', {
      id,
      reason: `ids beginning with "${CONTROLLER_USERNAME}" are the controller's own`,
    });
  }
  const secret = randomBytes(32).toString('base64url');
  const salt = randomBytes(16).toString('hex');
  return { secret, salt, hash: hashSecret(salt, secret).toString('hex') };
}

/** Whether `secret` is the one whose salted hash the row holds (constant time). */
export function secretMatches(r: Pick<DeviceRow, 'secret_salt' | 'secret_hash'>, secret: string) {
  const expected = Buffer.from(r.secret_hash, 'hex');
  const actual = hashSecret(r.secret_salt, secret);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

export function toDeviceRecord(r: Row): DeviceRecord {
  return {
    id: parseDeviceId(r.id, 'stored device id'), // checked on insert (newDeviceCredentials) too
    chip: r.chip,
    tags: JSON.parse(r.tags) as Record<string, string>,
    createdAt: Number(r.created_at),
    lastSeen: r.last_seen === null ? null : Number(r.last_seen),
    online: Number(r.online) === 1,
    state: r.state ? (JSON.parse(r.state) as Record<string, unknown>) : null,
  };
}

/** A report's order as stored: NULL for a report that carries none. */
export function storedOrder(order: StateOrder): { boot: string | null; seq: number | null } {
  return order.bootId === undefined || order.stateSeq === undefined
    ? { boot: null, seq: null }
    : { boot: order.bootId, seq: order.stateSeq };
}

/**
 * Whether a report replaces the stored state: it carries no order (agents before it: last write
 * wins), the stored state carries none, it is of another boot (a restart begins a new count), or
 * it is not older within the same boot (a duplicate writes the same again). The SQL below is the
 * same rule, for both dialects.
 */
export function replacesStoredState(
  stored: Pick<DeviceRow, 'state_boot' | 'state_seq'>,
  order: StateOrder,
): boolean {
  const { boot, seq } = storedOrder(order);
  return (
    boot === null ||
    stored.state_boot === null ||
    stored.state_boot !== boot ||
    Number(stored.state_seq) <= seq!
  );
}

/**
 * `$name` parameters: SQLite binds them by name, PostgreSQL by number (pgParameters), and types
 * each from its first use, in the WHERE clause: `$boot IS NULL` alone would leave it untyped.
 */
export const SET_STATE_SQL = `UPDATE devices
  SET state = $state, state_boot = $boot, state_seq = $seq, last_seen = $at
  WHERE id = $id
    AND (state_boot IS NULL OR state_boot <> $boot OR $boot IS NULL OR state_seq <= $seq)`;

/** How long presence and state updates wait to be written together (see createDeviceRepo). */
export const DEVICE_WRITE_BEHIND_MS = 25;

interface PendingWrite {
  online?: { value: number; at: number };
  state?: { value: string; order: StateOrder; at: number };
}

// Presence and reported state arrive as MQTT messages, hundreds per second while a rollout
// finishes; with synchronous=FULL every single-row UPDATE commit costs a WAL fsync (2-3 ms here;
// the fleet benchmark's 500-device rollout spent over a second of the broker's thread on them).
// They are written behind: kept in memory and written in one transaction per
// DEVICE_WRITE_BEHIND_MS. Reads lay the queued values over the stored row, so no reader sees an
// older value than was set (and reading, which the tracker does per message, costs no write). A
// crash loses at most that window, which devices re-report (retained state, presence on
// reconnect).
export function createDeviceRepo(
  db: Db,
  options: { writeBehindMs?: number; clock?: Pick<Clock, 'sleep'> } = {},
): DeviceRepo<'sync'> {
  const insert = db.prepare(
    'INSERT INTO devices(id, chip, tags, secret_salt, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const byId = db.prepare('SELECT * FROM devices WHERE id = ?');
  const all = db.prepare('SELECT * FROM devices ORDER BY id');
  const presence = db.prepare('UPDATE devices SET online = ?, last_seen = ? WHERE id = ?');
  const state = db.prepare(SET_STATE_SQL);
  const del = db.prepare('DELETE FROM devices WHERE id = ?');
  const resetOnline = db.prepare('UPDATE devices SET online = 0');
  const writeBehindMs = options.writeBehindMs ?? DEVICE_WRITE_BEHIND_MS;
  const pending = new Map<string, PendingWrite>();
  const clock = options.clock ?? createSystemClock();
  let timer: Timer | undefined;
  const writePending = db.transaction((rows: [string, PendingWrite][]) => {
    for (const [id, p] of rows) {
      // Both set last_seen: the later update is written last.
      const ops = [
        p.online && (() => presence.run(p.online!.value, p.online!.at, id)),
        p.state &&
          (() =>
            state.run({
              state: p.state!.value,
              ...storedOrder(p.state!.order),
              at: p.state!.at,
              id,
            })),
      ];
      if (p.online && p.state && p.online.at > p.state.at) ops.reverse();
      for (const op of ops) if (op) op();
    }
  });
  function flush(): void {
    timer?.cancel();
    timer = undefined;
    if (pending.size === 0) return;
    const rows = [...pending];
    pending.clear();
    // Closed under a pending timer (shutdown flushes first; a test may not): nothing to write to.
    if (!db.open) return;
    try {
      writePending(rows);
    } catch (e) {
      // Kept for the next write (a busy or full database may recover); what was queued since is
      // newer and wins. The caller of an explicit flush sees the error.
      for (const [id, p] of rows) pending.set(id, { ...p, ...pending.get(id) });
      arm();
      throw e;
    }
  }
  function arm(): void {
    // A failed timed write is retried by the next one (flush re-queued its rows).
    timer ??= runAfter(clock, writeBehindMs, flush, { keepAlive: false, onError: () => undefined });
  }
  /** A stored row with the queued updates of its device laid over it. */
  function current(r: Row): DeviceRecord {
    const p = pending.get(r.id);
    if (!p) return toDeviceRecord(r);
    const seen = Math.max(p.online?.at ?? -Infinity, p.state?.at ?? -Infinity);
    return toDeviceRecord({
      ...r,
      ...(p.online ? { online: p.online.value } : {}),
      ...(p.state ? { state: p.state.value } : {}),
      last_seen: seen,
    });
  }
  /** The row with its queued state's order laid over it: what the next report is compared with. */
  function orderNow(r: Row): Pick<Row, 'state_boot' | 'state_seq'> {
    const queued = pending.get(r.id)?.state;
    if (!queued) return r;
    const { boot, seq } = storedOrder(queued.order);
    return { state_boot: boot, state_seq: seq };
  }
  function later(id: string): PendingWrite {
    const p = pending.get(id) ?? {};
    pending.set(id, p);
    arm();
    return p;
  }

  return {
    /** Create a device and return its one-time secret (never stored in clear). */
    add(id: string, chip: string, tags: Record<string, string>, now: number): { secret: string } {
      const { secret, salt, hash } = newDeviceCredentials(id);
      if (byId.get(id))
        throw bmfError('BMF_ERR_CONFLICT', { kind: 'device', id, reason: 'exists' });
      insert.run(id, chip, JSON.stringify(tags), salt, hash, now);
      return { secret };
    },
    get(id: string): DeviceRecord | undefined {
      const r = byId.get(id) as Row | undefined;
      return r ? current(r) : undefined;
    },
    require(id: string): DeviceRecord {
      const r = byId.get(id) as Row | undefined;
      if (!r) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'device', id });
      return current(r);
    },
    list(): DeviceRecord[] {
      return (all.all() as Row[]).map(current);
    },
    authenticate(id: string, secret: string): boolean {
      const r = byId.get(id) as Row | undefined;
      return r ? secretMatches(r, secret) : false;
    },
    setPresence(id: string, online: boolean, now: number): void {
      later(id).online = { value: online ? 1 : 0, at: now };
    },
    setState(id, value, order, now): boolean {
      // One process writes this database: deciding here, against the row and the queue, is
      // what the flush's conditional UPDATE will decide.
      const r = byId.get(id) as Row | undefined;
      if (!r || !replacesStoredState(orderNow(r), order)) return false;
      later(id).state = { value: JSON.stringify(value), order, at: now };
      return true;
    },
    remove(id: string): boolean {
      flush();
      return del.run(id).changes > 0;
    },
    /** On start-up nobody is connected yet; presence is rebuilt from connections. */
    markAllOffline(): void {
      flush();
      resetOnline.run();
    },
    /** Write queued presence and state now (before the database closes). */
    flush,
  };
}
