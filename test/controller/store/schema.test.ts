// Both stores' migrations come from one schema description (controller/store/schema.ts). A
// database written by the migration texts shipped before it (kept as data in the fixture) opens
// at every version it can be at, and ends with the schema of a new database: the same tables,
// types, keys, defaults and indexes, compared through each engine's own catalogue. SQLite and
// PostgreSQL (skipped with the reason where its binaries are absent).
import Database from 'better-sqlite3';
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase, type Db } from '../../../controller/store/db.js';
import { openPostgresStore } from '../../../controller/store/postgres/open.js';
import { pgMigrations, sqliteMigrations } from '../../../controller/store/schema.js';
import { postgresSkip, startPostgres } from '../../../harness/postgres.js';

const before = JSON.parse(
  readFileSync(
    new URL('../../fixtures/controller/store/schema-before-one-description.json', import.meta.url),
    'utf8',
  ),
) as { readonly sqlite: readonly string[]; readonly postgres: readonly string[] };

const dir = mkdtempSync(join(tmpdir(), 'bmf-schema-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** SQLite keeps each CREATE as written: compared with white space folded. */
function sqliteSchema(db: Db): unknown {
  return {
    version: db.pragma('user_version', { simple: true }),
    objects: (
      db
        .prepare(
          `SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name`,
        )
        .all() as { type: string; name: string; sql: string }[]
    ).map((o) => ({
      ...o,
      sql: o.sql
        .replace(/\s+/g, ' ')
        .replace(/\( /g, '(')
        .replace(/ ([),])/g, '$1'),
    })),
  };
}

t.test('sqlite', async (t) => {
  t.ok(sqliteMigrations.length >= before.sqlite.length, 'no shipped version dropped');
  // The reference: a database built by the old texts, brought up to date by today's code.
  const refPath = join(dir, 'ref.db');
  const ref = new Database(refPath);
  for (const m of before.sqlite) ref.exec(m);
  ref.pragma(`user_version = ${before.sqlite.length}`);
  ref.close();
  const refDb = openDatabase(refPath);
  const expected = sqliteSchema(refDb);
  refDb.close();
  t.equal(
    (expected as { objects: unknown[] }).objects.length,
    19,
    '13 tables and 6 indexes in the reference',
  );

  for (let k = 0; k <= before.sqlite.length; k++) {
    const path = join(dir, `v${k}.db`);
    const old = new Database(path);
    for (const m of before.sqlite.slice(0, k)) old.exec(m);
    old.pragma(`user_version = ${k}`);
    if (k >= 1) old.prepare(`INSERT INTO counters VALUES ('kept', 42)`).run();
    old.close();
    const db = openDatabase(path);
    t.same(sqliteSchema(db), expected, `opened at version ${k}: the schema of a new database`);
    if (k >= 1) {
      t.same(
        db.prepare(`SELECT value FROM counters WHERE name = 'kept'`).get(),
        { value: 42 },
        `version ${k}: its rows kept`,
      );
    }
    db.close();
  }
});

const skip = postgresSkip();
t.test('postgres', skip ? { skip } : {}, async (t) => {
  t.ok(pgMigrations.length >= before.postgres.length, 'no shipped version dropped');
  const server = await startPostgres(t);

  async function pgSchema(url: string): Promise<unknown> {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const q = async (sql: string) => (await c.query(sql)).rows;
      return {
        version: await q('SELECT version FROM schema_version'),
        columns: await q(
          `SELECT table_name, column_name, ordinal_position, data_type, is_nullable, column_default
             FROM information_schema.columns WHERE table_schema = 'public'
             ORDER BY table_name, ordinal_position`,
        ),
        constraints: await q(
          `SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY conname`,
        ),
        indexes: await q(
          `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
             ORDER BY indexname`,
        ),
      };
    } finally {
      await c.end();
    }
  }

  async function oldDatabase(k: number): Promise<string> {
    const url = await server.newDatabase();
    if (k === 0) return url;
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    for (const m of before.postgres.slice(0, k)) await c.query(m);
    await c.query('INSERT INTO schema_version VALUES ($1)', [k]);
    await c.query(`INSERT INTO counters VALUES ('kept', 42)`);
    await c.end();
    return url;
  }

  async function openAndRead(url: string): Promise<{ schema: unknown; kept: unknown[] }> {
    const store = await openPostgresStore(url, { max: 1 });
    try {
      const kept = (await store.pool.query(`SELECT value FROM counters WHERE name = 'kept'`)).rows;
      return { schema: await pgSchema(url), kept };
    } finally {
      await store.close();
    }
  }

  const expected = (await openAndRead(await oldDatabase(before.postgres.length))).schema;
  t.equal(
    (expected as { indexes: unknown[] }).indexes.length,
    20,
    '14 primary keys and 6 indexes in the reference',
  );
  for (let k = 0; k <= before.postgres.length; k++) {
    const { schema, kept } = await openAndRead(await oldDatabase(k));
    t.same(schema, expected, `opened at version ${k}: the schema of a new database`);
    // BIGINT comes back as a string from pg.
    if (k >= 1) t.same(kept, [{ value: '42' }], `version ${k}: its rows kept`);
  }
});
