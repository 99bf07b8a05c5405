// Dashboard sessions (controller/web/session.ts), kept in the store so that a session outlives a
// controller restart and is seen by every replica on the same database. The table holds only a
// SHA-256 digest of each session id: a copy of the database signs nobody in (the cookie carries
// the id, the digest cannot be turned back into it). Expired rows are never answered and are
// deleted when new sessions are made.
import type { Db } from './db.js';
import type { Answer, StoreMode } from './repository.js';

export interface StoredSession {
  /** Hex SHA-256 of the session id. */
  readonly idHash: string;
  readonly role: 'operator' | 'viewer';
  readonly csrf: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export interface SessionRepo<M extends StoreMode = 'sync'> {
  /** Store a new session, delete the expired ones, and keep only the newest `max`. */
  insert(s: StoredSession, now: number, max: number): Answer<M, void>;
  /** The session, unless absent or expired at `now`. */
  get(idHash: string, now: number): Answer<M, StoredSession | undefined>;
  remove(idHash: string): Answer<M, void>;
}

export interface SessionRow {
  id_hash: string;
  role: string;
  csrf: string;
  created_at: number | string;
  expires_at: number | string;
}

export const toStoredSession = (r: SessionRow): StoredSession => ({
  idHash: r.id_hash,
  role: r.role === 'operator' ? 'operator' : 'viewer',
  csrf: r.csrf,
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
});

/** Deletes all but the newest `max` sessions (ties: the larger digest stays, any order will do). */
export const TRIM_SESSIONS_SQL = `DELETE FROM dashboard_sessions WHERE id_hash NOT IN (
  SELECT id_hash FROM dashboard_sessions ORDER BY created_at DESC, id_hash DESC LIMIT $max)`;

export function createSessionRepo(db: Db): SessionRepo<'sync'> {
  const q = {
    insert: db.prepare(
      'INSERT INTO dashboard_sessions(id_hash, role, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
    ),
    expired: db.prepare('DELETE FROM dashboard_sessions WHERE expires_at <= ?'),
    trim: db.prepare(TRIM_SESSIONS_SQL.replace('$max', '?')),
    get: db.prepare('SELECT * FROM dashboard_sessions WHERE id_hash = ? AND expires_at > ?'),
    remove: db.prepare('DELETE FROM dashboard_sessions WHERE id_hash = ?'),
  };
  const insert = db.transaction((s: StoredSession, now: number, max: number) => {
    q.insert.run(s.idHash, s.role, s.csrf, s.createdAt, s.expiresAt);
    q.expired.run(now);
    q.trim.run(max);
  });
  return {
    insert(s, now, max) {
      insert(s, now, max);
    },
    get(idHash, now) {
      const r = q.get.get(idHash, now) as SessionRow | undefined;
      return r ? toStoredSession(r) : undefined;
    },
    remove(idHash) {
      q.remove.run(idHash);
    },
  };
}
