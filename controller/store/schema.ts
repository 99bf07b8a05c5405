// The controller's schema, described once for both stores. Each step creates tables (columns in
// portable types, mapped per dialect below) or runs SQL both dialects accept, and names the schema
// version it belongs to in each dialect: the versions shipped before this description differ (the
// PostgreSQL store began with three of SQLite's versions in one, and leases exist only there).
// Append only: a shipped step is never edited, and a new one takes the next version in each
// dialect it applies to. The version is SQLite's user_version and PostgreSQL's schema_version.

export type Dialect = 'sqlite' | 'postgres';

/**
 * `int` is a small count or flag; `int64` a millisecond time, id, sequence or size (BIGINT on
 * PostgreSQL, whose INTEGER is 32-bit); `rowid` an auto-incrementing primary key.
 */
type ColumnType = 'text' | 'int' | 'int64' | 'bytes' | 'rowid';

interface Column {
  readonly type: ColumnType;
  /** NOT NULL unless this is set. */
  readonly nullable?: true;
  readonly primaryKey?: true;
  /** SQL text, the same in both dialects. */
  readonly default?: string;
  /** `table(column)`. */
  readonly references?: string;
}

interface Table {
  readonly name: string;
  readonly columns: Readonly<Record<string, Column>>;
  /** A composite primary key (a single-column one is on its column). */
  readonly primaryKey?: readonly string[];
  /** Index name -> its columns. */
  readonly indexes?: Readonly<Record<string, readonly string[]>>;
  /** SQLite stores the rows in the primary key's b-tree (a table read only by its key). */
  readonly withoutRowid?: true;
}

type Versions = Readonly<Partial<Record<Dialect, number>>>;

type Step =
  | { readonly kind: 'tables'; readonly in: Versions; readonly tables: readonly Table[] }
  | {
      readonly kind: 'columns';
      readonly in: Versions;
      readonly table: string;
      /** Added to an existing table: nullable, or with a default, so its rows stay valid. */
      readonly columns: Readonly<Record<string, Column>>;
    }
  | { readonly kind: 'sql'; readonly in: Versions; readonly sql: string };

const TYPES: Record<Dialect, Record<ColumnType, string>> = {
  sqlite: {
    text: 'TEXT',
    int: 'INTEGER',
    int64: 'INTEGER',
    bytes: 'BLOB',
    rowid: 'INTEGER PRIMARY KEY AUTOINCREMENT',
  },
  postgres: {
    text: 'TEXT',
    int: 'INTEGER',
    int64: 'BIGINT',
    bytes: 'BYTEA',
    rowid: 'BIGSERIAL PRIMARY KEY',
  },
};

const text: Column = { type: 'text' };
const int64: Column = { type: 'int64' };
const key: Column = { type: 'text', primaryKey: true };
/** A rollout or an experiment: its spec as given, the engine's state, a status to filter on. */
const specAndState = {
  id: key,
  spec: text,
  state: text,
  status: text,
  created_at: int64,
  updated_at: int64,
};

const STEPS: readonly Step[] = [
  {
    kind: 'tables',
    in: { sqlite: 1, postgres: 1 },
    tables: [
      {
        name: 'devices',
        columns: {
          id: key,
          chip: text,
          tags: { type: 'text', default: `'{}'` },
          secret_salt: text,
          secret_hash: text,
          created_at: int64,
          last_seen: { type: 'int64', nullable: true },
          online: { type: 'int', default: '0' },
          state: { type: 'text', nullable: true },
        },
      },
      { name: 'models', columns: { name: key, created_at: int64 } },
      {
        name: 'bundles',
        columns: {
          digest: key,
          model: { type: 'text', references: 'models(name)' },
          version: text,
          sequence: int64,
          precision: text,
          chips: text,
          manifest: text,
          envelope: { type: 'bytes' },
          created_at: int64,
        },
        indexes: { bundles_model: ['model', 'sequence'] },
      },
      { name: 'blobs', columns: { digest: key, size: int64, created_at: int64 } },
      {
        name: 'assignments',
        columns: {
          device_id: text,
          sequence: int64,
          body: text,
          envelope: { type: 'bytes' },
          created_at: int64,
        },
        primaryKey: ['device_id', 'sequence'],
      },
      { name: 'rollouts', columns: specAndState },
      {
        name: 'rollout_events',
        columns: {
          id: { type: 'rowid' },
          rollout_id: text,
          at: int64,
          type: text,
          device_id: { type: 'text', nullable: true },
          message: text,
        },
        indexes: { rollout_events_rollout: ['rollout_id', 'id'] },
      },
      {
        name: 'device_events',
        columns: {
          id: { type: 'rowid' },
          device_id: text,
          at: int64,
          severity: text,
          code: text,
          message: text,
          details: { type: 'text', default: `'{}'` },
        },
        indexes: { device_events_device: ['device_id', 'id'] },
      },
      {
        name: 'telemetry_minute',
        columns: {
          minute: int64,
          device_id: text,
          bundle: text,
          variant: text,
          requests: int64,
          errors: int64,
          counters: text,
          sketches: { type: 'bytes' },
        },
        primaryKey: ['minute', 'device_id', 'bundle', 'variant'],
        indexes: { telemetry_minute_bundle: ['bundle', 'variant', 'minute'] },
      },
      { name: 'counters', columns: { name: key, value: int64 } },
    ],
  },
  {
    kind: 'tables',
    in: { sqlite: 2, postgres: 1 },
    tables: [{ name: 'experiments', columns: specAndState }],
  },
  {
    kind: 'tables',
    in: { sqlite: 3, postgres: 1 },
    tables: [
      {
        name: 'telemetry_seen',
        columns: { device_id: text, key: text, interval_start: int64 },
        primaryKey: ['device_id', 'key'],
        indexes: { telemetry_seen_start: ['interval_start'] },
        withoutRowid: true,
      },
    ],
  },
  // SQLite has one controller: it never takes a lease (leadership.ts).
  {
    kind: 'tables',
    in: { postgres: 2 },
    tables: [
      {
        name: 'leases',
        columns: { name: key, holder: text, token: int64, expires_at: int64 },
      },
    ],
  },
  {
    kind: 'tables',
    in: { sqlite: 4, postgres: 3 },
    tables: [
      {
        name: 'dashboard_sessions',
        columns: { id_hash: key, role: text, csrf: text, created_at: int64, expires_at: int64 },
        indexes: { dashboard_sessions_expires: ['expires_at'] },
        withoutRowid: true,
      },
    ],
  },
  // Variants are 'A'/'B' everywhere (shared/ids.ts); rows written from earlier agents' reports
  // and states spell them 'a'/'b'. No 'A'/'B' row can exist before this runs (the wire refused
  // upper case then), so no key collides. JSON columns are JSON.stringify output (no spaces).
  {
    kind: 'sql',
    in: { sqlite: 5, postgres: 4 },
    sql: `
  UPDATE telemetry_minute SET variant = upper(variant) WHERE variant IN ('a', 'b');
  UPDATE telemetry_seen SET key = replace(replace(key, '/a/', '/A/'), '/b/', '/B/')
    WHERE key LIKE '%/a/%' OR key LIKE '%/b/%';
  UPDATE devices SET state =
    replace(replace(state, '"variant":"a"', '"variant":"A"'), '"variant":"b"', '"variant":"B"')
    WHERE state IS NOT NULL;
  UPDATE device_events SET details =
    replace(replace(details, '"variant":"a"', '"variant":"A"'), '"variant":"b"', '"variant":"B"');
  `,
  },
  // A device's state follows the device's own order of its reports, not the order in which
  // replicas write them (devices.ts, SET_STATE_SQL). NULL: stored from a report without one.
  {
    kind: 'columns',
    in: { sqlite: 6, postgres: 5 },
    table: 'devices',
    columns: {
      state_boot: { type: 'text', nullable: true },
      state_seq: { type: 'int64', nullable: true },
    },
  },
];

function columnSql(dialect: Dialect, name: string, c: Column): string {
  let s = `${name} ${TYPES[dialect][c.type]}`;
  if (c.type === 'rowid') return s;
  if (!c.nullable && !c.primaryKey) s += ' NOT NULL';
  if (c.primaryKey) s += ' PRIMARY KEY';
  if (c.default !== undefined) s += ` DEFAULT ${c.default}`;
  if (c.references) s += ` REFERENCES ${c.references}`;
  return s;
}

function tableSql(dialect: Dialect, t: Table): string {
  const lines = Object.entries(t.columns).map(([name, c]) => columnSql(dialect, name, c));
  if (t.primaryKey) lines.push(`PRIMARY KEY (${t.primaryKey.join(', ')})`);
  const rowid = t.withoutRowid && dialect === 'sqlite' ? ' WITHOUT ROWID' : '';
  const indexes = Object.entries(t.indexes ?? {}).map(
    ([name, cols]) => `CREATE INDEX ${name} ON ${t.name}(${cols.join(', ')});`,
  );
  return [`CREATE TABLE ${t.name} (\n  ${lines.join(',\n  ')}\n)${rowid};`, ...indexes].join('\n');
}

function stepSql(dialect: Dialect, s: Step): string {
  switch (s.kind) {
    case 'tables':
      return s.tables.map((t) => tableSql(dialect, t)).join('\n');
    case 'columns':
      return Object.entries(s.columns)
        .map(([name, c]) => `ALTER TABLE ${s.table} ADD COLUMN ${columnSql(dialect, name, c)};`)
        .join('\n');
    case 'sql':
      return s.sql;
  }
}

/** The dialect's migrations: element v is what takes a database from version v to v + 1. */
export function migrationsFor(dialect: Dialect): readonly string[] {
  const out: string[][] = [];
  for (const s of STEPS) {
    const v = s.in[dialect];
    if (v === undefined) continue;
    // Steps are listed in version order, so a version only grows or repeats.
    if (v !== out.length && v !== out.length + 1) {
      throw new Error(`schema step for ${dialect} version ${v} after version ${out.length}`);
    }
    if (v > out.length) out.push([]);
    out[v - 1]!.push(stepSql(dialect, s));
  }
  return out.map((parts) => parts.join('\n'));
}

export const sqliteMigrations = migrationsFor('sqlite');
export const pgMigrations = migrationsFor('postgres');
