// Rows stored before the one variant spelling (telemetry minutes and seen-report keys, device
// states and device events written from agents that sent 'a'/'b') survive the migration that
// re-spells them 'A'/'B': read back through the repositories, nothing else in them changed.
// SQLite and PostgreSQL (skipped with the reason where its binaries are absent).
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase } from '../../../controller/store/db.js';
import { createDeviceEventRepo } from '../../../controller/store/device-events.js';
import { createDeviceRepo } from '../../../controller/store/devices.js';
import { openPostgresStore } from '../../../controller/store/postgres/open.js';
import {
  pgDeviceEvents,
  pgDevices,
  pgTelemetry,
} from '../../../controller/store/postgres/repos.js';
import type { StoreMode } from '../../../controller/store/repository.js';
import type { DeviceEventRepo } from '../../../controller/store/device-events.js';
import type { DeviceRepo } from '../../../controller/store/devices.js';
import { createTelemetryRepo, type TelemetryRepo } from '../../../controller/store/telemetry.js';
import { postgresSkip, startPostgres } from '../../../harness/postgres.js';

// The migration texts as shipped before the one schema description: the databases this
// migration meets were written by them.
const before = JSON.parse(
  readFileSync(
    new URL('../../fixtures/controller/store/schema-before-one-description.json', import.meta.url),
    'utf8',
  ),
) as { readonly sqlite: readonly string[]; readonly postgres: readonly string[] };
const migrations = before.sqlite;
const pgMigrations = before.postgres;

const D = 'ab'.repeat(32);
const state = {
  deviceId: 'dev-1',
  active: [
    { variant: 'a', bundleDigest: D, bundleSequence: 2 },
    { variant: 'b', bundleDigest: D, bundleSequence: 2 },
  ],
  lastKnownGood: [{ variant: 'a', bundleDigest: D, bundleSequence: 1 }],
  status: 'active',
  message: 'variant "a" kept as written',
};
const details = { step: 'gate', variant: 'b', bundleDigest: D };

/** What an earlier controller wrote, in the SQL both stores share. */
const LEGACY_ROWS: [string, unknown[]][] = [
  [
    `INSERT INTO devices(id, chip, tags, secret_salt, secret_hash, created_at, state)
     VALUES ('dev-1', 'bm1684x', '{}', 's', 'h', 1, $1)`,
    [JSON.stringify(state)],
  ],
  [
    `INSERT INTO device_events(device_id, at, severity, code, message, details)
     VALUES ('dev-1', 5, 'warning', 'BMF_ERR_AGENT_GATE_FAILED', 'm', $1)`,
    [JSON.stringify(details)],
  ],
  [
    `INSERT INTO telemetry_minute(minute, device_id, bundle, variant, requests, errors, counters, sketches)
     VALUES (60000, 'dev-1', $1, 'b', 7, 1, '{"x":1}', $2)`,
    [D, Buffer.from([1, 2, 3])],
  ],
  [
    `INSERT INTO telemetry_seen(device_id, key, interval_start) VALUES ('dev-1', $1, 60000)`,
    [`60000/b/${D}`],
  ],
];

async function check(
  t: Test,
  s: {
    devices: DeviceRepo<StoreMode>;
    events: DeviceEventRepo<StoreMode>;
    telemetry: TelemetryRepo<StoreMode>;
  },
): Promise<void> {
  const device = await s.devices.require('dev-1');
  t.same(
    device.state,
    {
      ...state,
      active: state.active.map((v) => ({ ...v, variant: v.variant.toUpperCase() })),
      lastKnownGood: [{ variant: 'A', bundleDigest: D, bundleSequence: 1 }],
    },
    'device state: variants re-spelled, the rest as stored',
  );
  const [event] = await s.events.page('dev-1', Number.MAX_SAFE_INTEGER, 10);
  t.same(event?.details, { ...details, variant: 'B' }, 'device event details');
  const rows = await s.telemetry.selectMinutes(
    { fromMinute: 0, toMs: 120_000, variant: 'B' },
    true,
  );
  t.equal(rows.length, 1, 'the minute is found under B');
  t.match(rows[0], { variant: 'B', requests: 7, errors: 1, counters: '{"x":1}' });
  t.same([...(rows[0]?.sketches ?? [])], [1, 2, 3], 'sketch bytes unchanged');
  t.same(
    await s.telemetry.selectMinutes({ fromMinute: 0, toMs: 120_000, variant: 'b' }, false),
    [],
    'nothing left under b',
  );
  t.same(await s.telemetry.seenKeys('dev-1', 10), [`60000/B/${D}`], 'a replayed report dedups');
}

const dir = mkdtempSync(join(tmpdir(), 'bmf-variant-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('sqlite: rows from before the migration read back in the one spelling', async (t) => {
  const path = join(dir, 'old.db');
  const old = new Database(path);
  for (const m of migrations.slice(0, -1)) old.exec(m);
  old.pragma(`user_version = ${migrations.length - 1}`);
  for (const [sql, args] of LEGACY_ROWS) old.prepare(sql.replace(/\$\d/g, '?')).run(...args);
  old.close();
  const db = openDatabase(path);
  t.teardown(() => db.close());
  await check(t, {
    devices: createDeviceRepo(db),
    events: createDeviceEventRepo(db),
    telemetry: createTelemetryRepo(db),
  });
});

const skip = postgresSkip();
t.test('postgres: the same rows, the same reading', skip ? { skip } : {}, async (t) => {
  const server = await startPostgres(t);
  const url = await server.newDatabase();
  const old = new pg.Client({ connectionString: url });
  await old.connect();
  await old.query('CREATE TABLE schema_version (version INTEGER NOT NULL)');
  for (const m of pgMigrations.slice(0, -1)) await old.query(m);
  await old.query('INSERT INTO schema_version VALUES ($1)', [pgMigrations.length - 1]);
  for (const [sql, args] of LEGACY_ROWS) await old.query(sql, args);
  await old.end();
  const store = await openPostgresStore(url, { max: 1 });
  t.teardown(() => store.close());
  await check(t, {
    devices: pgDevices(store),
    events: pgDeviceEvents(store),
    telemetry: pgTelemetry(store),
  });
});
