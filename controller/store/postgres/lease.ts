// One lease per name (e.g. "rollouts") among controller replicas on one PostgreSQL: a row with
// its holder, an expiry on the database's clock (replicas' clocks do not matter) and a fencing
// token that grows by one each time the lease changes hands.
//
// INVARIANTS: a write made under the lease runs in a transaction that first checks, with the
// lease row locked FOR SHARE, that its token is still current and unexpired. A takeover updates
// that row, so it waits for every such transaction to end: a replica that lost the lease has
// either committed before the new holder starts, or its write fails with BMF_ERR_LEASE_LOST.
import type pg from 'pg';
import { bmfError } from '../../../shared/errors.js';
import type { PgStore } from './open.js';

/** Milliseconds on the database server's clock. */
const DB_NOW = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

export interface LeaseOptions {
  readonly name: string;
  /** This replica (host and pid, say); shown to operators. */
  readonly holder: string;
  /** Without a renewal the lease is free again after this long. */
  readonly ttlMs: number;
}

export interface PgLease {
  /** The fencing token when this replica holds the lease now (taken, or renewed). */
  acquire(): Promise<number | undefined>;
  /** Give the lease up (on shutdown) so another replica need not wait for the expiry. */
  release(token: number): Promise<void>;
  /**
   * Run `fn` in one transaction that holds the lease with `token`; BMF_ERR_LEASE_LOST (and nothing
   * written) when the token is no longer current.
   */
  fenced<T>(token: number, fn: (c: pg.PoolClient) => Promise<T>): Promise<T>;
  /** Who holds the lease now, if anyone (an expired row holds nothing). */
  holder(): Promise<string | undefined>;
}

export function createPgLease(store: PgStore, opts: LeaseOptions): PgLease {
  const { name, holder, ttlMs } = opts;
  return {
    async acquire() {
      const r = await store.pool.query<{ token: string }>(
        `INSERT INTO leases(name, holder, token, expires_at) VALUES ($1, $2, 1, ${DB_NOW} + $3)
         ON CONFLICT(name) DO UPDATE SET
           holder = excluded.holder,
           expires_at = excluded.expires_at,
           token = CASE WHEN leases.holder = excluded.holder AND leases.expires_at >= ${DB_NOW}
                        THEN leases.token ELSE leases.token + 1 END
         WHERE leases.expires_at < ${DB_NOW} OR leases.holder = excluded.holder
         RETURNING token`,
        [name, holder, ttlMs],
      );
      const token = r.rows[0]?.token;
      return token === undefined ? undefined : Number(token);
    },
    async release(token) {
      await store.pool.query(
        `UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2 AND token = $3`,
        [name, holder, token],
      );
    },
    async holder() {
      const r = await store.pool.query<{ holder: string }>(
        `SELECT holder FROM leases WHERE name = $1 AND expires_at >= ${DB_NOW}`,
        [name],
      );
      return r.rows[0]?.holder;
    },
    fenced(token, fn) {
      return store.transaction(async (c) => {
        const r = await c.query(
          `SELECT 1 FROM leases WHERE name = $1 AND holder = $2 AND token = $3
             AND expires_at >= ${DB_NOW} FOR SHARE`,
          [name, holder, token],
        );
        if (r.rowCount === 0) throw bmfError('BMF_ERR_LEASE_LOST', { name, holder, token });
        return fn(c);
      });
    },
  };
}
