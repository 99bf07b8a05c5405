// The telemetry store adds each flush to the stored row (TelemetryRepo.addBatch); these check
// that the table always ends up with the sum of everything flushed, including after a failed
// transaction, for late minutes and after a prune.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../controller/store/db.js';
import { createTelemetryRepo, type TelemetryRepo } from '../../../controller/store/telemetry.js';
import { addReport, emptyRollup, MINUTE_MS } from '../../../controller/telemetry/rollup.js';
import { createTelemetryStore, type RollupRow } from '../../../controller/telemetry/store.js';
import { reportValue } from '../../../harness/controller/telemetry-reports.js';

const T0 = 1_700_000_040_000 - (1_700_000_040_000 % MINUTE_MS);

/** One row holding one report of `n` e2e samples (n requests). */
function rowOf(minute: number, n: number): RollupRow {
  const rollup = emptyRollup();
  const latency = { e2e: Array.from({ length: n }, (_, i) => 1 + i) };
  addReport(rollup, reportValue({ deviceId: 'dev-1', intervalStartMs: minute, latency }));
  return { minute, deviceId: 'dev-1', bundle: 'a'.repeat(64), variant: 'A', rollup };
}

function openStore(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'bmf-telemetry-store-'));
  const db = openDatabase(join(dir, 'controller.db'));
  t.teardown(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const repo = createTelemetryRepo(db);
  // A write that fails after its rows went in (the disk fills at commit): the transaction rolls
  // back.
  const failing = { next: false };
  const addBatch: TelemetryRepo['addBatch'] = (batch) => {
    if (!failing.next) return repo.addBatch(batch);
    failing.next = false;
    return db.transaction(() => {
      repo.addBatch(batch);
      throw new Error('disk full');
    })();
  };
  const store = createTelemetryStore({ ...repo, addBatch });
  /** Add rows as one flush of reports never seen before. */
  const upsert = (rows: readonly RollupRow[]) =>
    store.add({ seen: [], build: () => ({ rows, counters: {} }) });
  return { db, failing, store, upsert };
}

/** What a fresh store (nothing cached) reads back for the minute: requests and e2e samples. */
async function readBack(db: ReturnType<typeof openDatabase>, minute: number) {
  const rows = await createTelemetryStore(createTelemetryRepo(db)).select(
    { fromMs: minute, toMs: minute + MINUTE_MS },
    true,
    minute,
  );
  return rows.map((r) => ({
    requests: r.rollup.requests,
    e2e: r.rollup.sketches.get('e2e')?.count,
    reports: r.rollup.counters.reports,
  }));
}

t.test('flushes of the same minute add up', async (t) => {
  const { db, upsert } = openStore(t);
  for (const n of [3, 4, 5]) await upsert([rowOf(T0, n)]);
  t.same(await readBack(db, T0), [{ requests: 12, e2e: 12, reports: 3 }]);
});

t.test('a failed flush is not counted, and the next one adds to what is stored', async (t) => {
  const { db, failing, upsert } = openStore(t);
  await upsert([rowOf(T0, 3)]);
  failing.next = true;
  await t.rejects(upsert([rowOf(T0, 100)]), /disk full/);
  t.same(await readBack(db, T0), [{ requests: 3, e2e: 3, reports: 1 }], 'rolled back');
  await upsert([rowOf(T0, 4)]);
  t.same(await readBack(db, T0), [{ requests: 7, e2e: 7, reports: 2 }], 'the failed rows are gone');
});

t.test('a late report for an older minute merges with the stored row', async (t) => {
  const { db, upsert } = openStore(t);
  await upsert([rowOf(T0, 2)]);
  for (let m = 1; m <= 3; m++) await upsert([rowOf(T0 + m * MINUTE_MS, 1)]);
  await upsert([rowOf(T0, 5)]);
  t.same(await readBack(db, T0), [{ requests: 7, e2e: 7, reports: 2 }]);
  t.same(await readBack(db, T0 + 3 * MINUTE_MS), [{ requests: 1, e2e: 1, reports: 1 }]);
});

t.test('pruned minutes are not resurrected by a later flush', async (t) => {
  const { db, store, upsert } = openStore(t);
  await upsert([rowOf(T0, 2)]);
  t.equal(await store.prune(T0 + MINUTE_MS), 1);
  await upsert([rowOf(T0, 3)]);
  t.same(await readBack(db, T0), [{ requests: 3, e2e: 3, reports: 1 }], 'only what came after');
});
