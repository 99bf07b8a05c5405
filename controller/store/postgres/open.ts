// The PostgreSQL store (driver: pg). A pool of connections; migrations run on open inside one
// transaction under an advisory lock, so replicas starting together migrate once.
import pg from 'pg';
import { bmfError, isBmfError } from '../../../shared/errors.js';
import { pgMigrations } from '../schema.js';

/** Any value: the lock that serialises migrations (ASCII "bmfm"). */
const MIGRATION_LOCK = 0x626d666d;

export interface PgStore {
  readonly pool: pg.Pool;
  /** The URL without its password, for messages. */
  readonly url: string;
  /** Run `fn` in one transaction on one connection; rolled back when it throws. */
  transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The URL with any password replaced, for errors and logs. */
export function redactStoreUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** Check the URL's form before any connection: a postgres:// or postgresql:// URL with a host. */
export function parsePostgresUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bmfError('BMF_ERR_STORE_URL', { url: redactStoreUrl(url), reason: 'not a URL' });
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw bmfError('BMF_ERR_STORE_URL', {
      url: redactStoreUrl(url),
      reason: `scheme ${u.protocol} is not postgres: or postgresql:`,
    });
  }
  // A unix socket is given as ?host=/dir (libpq's form), so the URL's own host may be empty.
  if (!u.hostname && !u.searchParams.get('host')) {
    throw bmfError('BMF_ERR_STORE_URL', {
      url: redactStoreUrl(url),
      reason: 'no host (give host[:port], or ?host=/socket/dir)',
    });
  }
  return u;
}

export async function openPostgresStore(
  url: string,
  opts: { readonly max?: number; readonly connectTimeoutMs?: number } = {},
): Promise<PgStore> {
  parsePostgresUrl(url);
  const shown = redactStoreUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
  });
  // An idle client's error (server restart) must not crash the process; the next query fails.
  pool.on('error', () => undefined);
  async function transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }
  try {
    await pool.query('SELECT 1');
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw bmfError('BMF_ERR_STORE_UNREACHABLE', { url: shown, reason: (e as Error).message });
  }
  try {
    await migrate(transaction);
  } catch (e) {
    await pool.end().catch(() => undefined);
    if (isBmfError(e)) throw e;
    throw bmfError('BMF_ERR_STORE', { reason: `migrating ${shown}: ${(e as Error).message}` });
  }
  return { pool, url: shown, transaction, close: () => pool.end() };
}

async function migrate(transaction: PgStore['transaction']): Promise<void> {
  await transaction(async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const r = await c.query<{ version: number }>('SELECT version FROM schema_version');
    if (r.rows.length === 0) await c.query('INSERT INTO schema_version VALUES (0)');
    const current = r.rows[0]?.version ?? 0;
    if (current > pgMigrations.length) {
      throw bmfError('BMF_ERR_STORE', {
        reason: `database schema version ${current} is newer than this controller (${pgMigrations.length})`,
      });
    }
    for (let v = current; v < pgMigrations.length; v++) {
      await c.query(pgMigrations[v] as string);
      await c.query('UPDATE schema_version SET version = $1', [v + 1]);
    }
  });
}
