// ingestStored() resolves only once the report is committed, and the report keys committed with
// it survive a restart: a report stored just before a crash, whose acknowledgement was lost, is
// recognised as a duplicate when the device sends it again.
import t from 'tap';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { openDatabase } from '../../../controller/store/db.js';
import { createTelemetryRepo } from '../../../controller/store/telemetry.js';
import { createTelemetryService } from '../../../controller/telemetry/service.js';
import { openTelemetry } from './harness.js';
import { encodeReport } from '../../../harness/controller/telemetry-reports.js';

const NOW = Date.UTC(2026, 0, 5, 12, 0, 0);

function storedRequests(dir: string): number {
  const db = new Database(join(dir, 'controller.db'), { readonly: true });
  try {
    return (
      db.prepare('SELECT COALESCE(SUM(requests), 0) AS n FROM telemetry_minute').get() as {
        n: number;
      }
    ).n;
  } finally {
    db.close();
  }
}

t.test('resolves after the commit, for accepted reports and duplicates', async (t) => {
  const { service, dir, clock } = openTelemetry(t, NOW, { commitDelayMs: 5 });
  const report = encodeReport({ deviceId: 'dev-1', intervalStartMs: NOW - 60_000, requests: 7 });
  let resolved = false;
  const first = service.ingestStored('dev-1', report).finally(() => (resolved = true));
  await clock.advance(4);
  t.equal(storedRequests(dir), 0, 'not stored yet: not acknowledged yet');
  t.notOk(resolved, 'not resolved before the commit delay');
  await clock.advance(1);
  t.equal(await first, 'accepted');
  t.equal(storedRequests(dir), 7, 'stored when it resolves');
  const again = service.ingestStored('dev-1', report);
  await clock.advance(5);
  t.equal(await again, 'duplicate');
  t.equal(storedRequests(dir), 7);
  t.equal(await service.ingestStored('dev-1', new Uint8Array([1, 2, 3])), 'malformed');
});

t.test('the report keys survive a restart', async (t) => {
  const { dir, service, db, clock } = openTelemetry(t, NOW, { commitDelayMs: 1 });
  const report = encodeReport({ deviceId: 'dev-1', intervalStartMs: NOW - 60_000, requests: 5 });
  const stored = service.ingestStored('dev-1', report);
  await clock.advance(1);
  t.equal(await stored, 'accepted');
  // A second service on the same file, as after a crash: empty memory, same database.
  const db2 = openDatabase(join(dir, 'controller.db'));
  const again = createTelemetryService({
    store: createTelemetryRepo(db2),
    clock,
    commitDelayMs: 1,
    flushIntervalMs: 0,
    pruneIntervalMs: 0,
  });
  t.teardown(async () => {
    await again.close();
    db2.close();
  });
  const duplicate = again.ingestStored('dev-1', report);
  await clock.advance(1);
  t.equal(await duplicate, 'duplicate');
  t.equal(storedRequests(dir), 5, 'counted once');
  void db;
});
