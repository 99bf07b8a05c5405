// Schema migrations, applied in order inside one transaction each. Append only: a shipped
// migration is never edited, so every controller database converges to the same schema.
export const migrations: readonly string[] = [
  `
  CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    chip TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}',
    secret_salt TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER,
    online INTEGER NOT NULL DEFAULT 0,
    state TEXT
  );
  CREATE TABLE models (
    name TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE bundles (
    digest TEXT PRIMARY KEY,
    model TEXT NOT NULL REFERENCES models(name),
    version TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    precision TEXT NOT NULL,
    chips TEXT NOT NULL,
    manifest TEXT NOT NULL,
    envelope BLOB NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX bundles_model ON bundles(model, sequence);
  CREATE TABLE blobs (
    digest TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE assignments (
    device_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    body TEXT NOT NULL,
    envelope BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, sequence)
  );
  CREATE TABLE rollouts (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE rollout_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rollout_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    type TEXT NOT NULL,
    device_id TEXT,
    message TEXT NOT NULL
  );
  CREATE INDEX rollout_events_rollout ON rollout_events(rollout_id, id);
  CREATE TABLE device_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    severity TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX device_events_device ON device_events(device_id, id);
  CREATE TABLE telemetry_minute (
    minute INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    bundle TEXT NOT NULL,
    variant TEXT NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    counters TEXT NOT NULL,
    sketches BLOB NOT NULL,
    PRIMARY KEY (minute, device_id, bundle, variant)
  );
  CREATE INDEX telemetry_minute_bundle ON telemetry_minute(bundle, variant, minute);
  CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  );
  `,
  `
  CREATE TABLE experiments (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
  `
  CREATE TABLE telemetry_seen (
    device_id TEXT NOT NULL,
    key TEXT NOT NULL,
    interval_start INTEGER NOT NULL,
    PRIMARY KEY (device_id, key)
  ) WITHOUT ROWID;
  CREATE INDEX telemetry_seen_start ON telemetry_seen(interval_start);
  `,
  `
  CREATE TABLE dashboard_sessions (
    id_hash TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
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
