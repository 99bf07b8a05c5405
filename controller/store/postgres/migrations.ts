// PostgreSQL schema migrations: the same tables as the SQLite ones (../migrations.ts), in
// PostgreSQL's types (BIGINT for millisecond times and ids, BYTEA for bytes, BIGSERIAL for
// AUTOINCREMENT). Append only, like the SQLite list; the index of a migration here is its
// version in the schema_version table.
export const pgMigrations: readonly string[] = [
  `
  CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    chip TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}',
    secret_salt TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT,
    online INTEGER NOT NULL DEFAULT 0,
    state TEXT
  );
  CREATE TABLE models (
    name TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE bundles (
    digest TEXT PRIMARY KEY,
    model TEXT NOT NULL REFERENCES models(name),
    version TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    precision TEXT NOT NULL,
    chips TEXT NOT NULL,
    manifest TEXT NOT NULL,
    envelope BYTEA NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE INDEX bundles_model ON bundles(model, sequence);
  CREATE TABLE blobs (
    digest TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE assignments (
    device_id TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    body TEXT NOT NULL,
    envelope BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, sequence)
  );
  CREATE TABLE rollouts (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE TABLE rollout_events (
    id BIGSERIAL PRIMARY KEY,
    rollout_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    type TEXT NOT NULL,
    device_id TEXT,
    message TEXT NOT NULL
  );
  CREATE INDEX rollout_events_rollout ON rollout_events(rollout_id, id);
  CREATE TABLE device_events (
    id BIGSERIAL PRIMARY KEY,
    device_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    severity TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX device_events_device ON device_events(device_id, id);
  CREATE TABLE telemetry_minute (
    minute BIGINT NOT NULL,
    device_id TEXT NOT NULL,
    bundle TEXT NOT NULL,
    variant TEXT NOT NULL,
    requests BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    counters TEXT NOT NULL,
    sketches BYTEA NOT NULL,
    PRIMARY KEY (minute, device_id, bundle, variant)
  );
  CREATE INDEX telemetry_minute_bundle ON telemetry_minute(bundle, variant, minute);
  CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
  );
  CREATE TABLE experiments (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE TABLE telemetry_seen (
    device_id TEXT NOT NULL,
    key TEXT NOT NULL,
    interval_start BIGINT NOT NULL,
    PRIMARY KEY (device_id, key)
  );
  CREATE INDEX telemetry_seen_start ON telemetry_seen(interval_start);
  `,
  `
  CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    token BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  `,
  `
  CREATE TABLE dashboard_sessions (
    id_hash TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX dashboard_sessions_expires ON dashboard_sessions(expires_at);
  `,
  // Variants are 'A'/'B' everywhere (shared/ids.ts); rows written from earlier agents' reports
  // and states spell them 'a'/'b'. No 'A'/'B' row can exist before this runs (the wire refused
  // upper case then), so no key collides. JSON columns are JSON.stringify output (no spaces).
  `
  UPDATE telemetry_minute SET variant = upper(variant) WHERE variant IN ('a', 'b');
  UPDATE telemetry_seen SET key = replace(replace(key, '/a/', '/A/'), '/b/', '/B/')
    WHERE key LIKE '%/a/%' OR key LIKE '%/b/%';
  UPDATE devices SET state =
    replace(replace(state, '"variant":"a"', '"variant":"A"'), '"variant":"b"', '"variant":"B"')
    WHERE state IS NOT NULL;
  UPDATE device_events SET details =
    replace(replace(details, '"variant":"a"', '"variant":"A"'), '"variant":"b"', '"variant":"B"');
  `,
];
