import t from 'tap';
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../controller/store/db.js';
import { createDeviceRepo } from '../../../controller/store/devices.js';
import { createManualClock } from '../../../shared/clock.js';

const dir = mkdtempSync(join(tmpdir(), 'bmf-store-'));

t.test('device credentials authenticate only with the right secret, across reopen', async (t) => {
  const path = join(dir, 'a.db');
  let db = openDatabase(path);
  const { secret } = createDeviceRepo(db).add('se7-01', 'bm1684x', { site: 'berlin' }, 1000);
  db.close();
  db = openDatabase(path);
  const devices = createDeviceRepo(db);
  t.ok(devices.authenticate('se7-01', secret));
  t.notOk(devices.authenticate('se7-01', secret.slice(0, -1) + 'x'));
  t.notOk(devices.authenticate('se7-02', secret));
  t.same(devices.require('se7-01').tags, { site: 'berlin' });
  t.throws(() => devices.add('se7-01', 'bm1684x', {}, 1), { code: 'BMF_ERR_CONFLICT' });
  t.throws(() => devices.add('bad/id', 'bm1684x', {}, 1), { code: 'BMF_ERR_BAD_REQUEST' });
  t.throws(() => devices.add('a+', 'bm1684x', {}, 1), { code: 'BMF_ERR_BAD_REQUEST' });
  t.throws(() => devices.require('nope'), { code: 'BMF_ERR_NOT_FOUND' });
  devices.setPresence('se7-01', true, 2000);
  t.equal(devices.require('se7-01').online, true);
  devices.markAllOffline();
  t.equal(devices.require('se7-01').online, false);
  db.close();
});

t.test('a database from a newer controller is refused, not modified', async (t) => {
  const path = join(dir, 'future.db');
  const db = openDatabase(path);
  db.pragma('user_version = 999');
  db.close();
  t.throws(() => openDatabase(path), { code: 'BMF_ERR_STORE' });
});

t.test(
  'presence and state are written behind in one transaction; reads see them at once',
  async (t) => {
    const path = join(dir, 'behind.db');
    const db = openDatabase(path);
    const devices = createDeviceRepo(db, { writeBehindMs: 60_000 });
    devices.add('se7-01', 'bm1684x', {}, 1000);
    devices.add('se7-02', 'bm1684x', {}, 1000);
    // A second connection sees only what was committed.
    const other = openDatabase(path);
    const committed = (id: string) =>
      other.prepare('SELECT online, state, last_seen FROM devices WHERE id = ?').get(id) as {
        online: number;
        state: string | null;
        last_seen: number | null;
      };
    devices.setPresence('se7-01', true, 2000);
    devices.setState('se7-01', { status: 'active' }, {}, 3000);
    devices.setPresence('se7-02', true, 2500);
    t.same(committed('se7-01'), { online: 0, state: null, last_seen: null }, 'not yet written');
    const r = devices.require('se7-01');
    t.same([r.online, r.state, r.lastSeen], [true, { status: 'active' }, 3000], 'reads see them');
    t.same(
      devices.list().map((d) => d.online),
      [true, true],
    );
    t.same(
      committed('se7-01'),
      { online: 0, state: null, last_seen: null },
      'a read writes nothing',
    );
    devices.flush();
    t.same(committed('se7-01'), { online: 1, state: '{"status":"active"}', last_seen: 3000 });
    t.equal(committed('se7-02').online, 1, 'one flush writes every queued device');
    // The later of presence and state sets last_seen, whatever order they were queued in.
    devices.setState('se7-02', { status: 'fetching' }, {}, 4000);
    devices.setPresence('se7-02', false, 5000);
    devices.flush();
    t.same(committed('se7-02'), { online: 0, state: '{"status":"fetching"}', last_seen: 5000 });
    // Timer path: a short window writes without any read.
    const clock = createManualClock();
    const quick = createDeviceRepo(db, { writeBehindMs: 5, clock });
    quick.setPresence('se7-01', false, 6000);
    await clock.advance(4);
    t.equal(committed('se7-01').online, 1, 'not written before the window ends');
    await clock.advance(1);
    t.equal(committed('se7-01').online, 0, 'written by the timer');
    other.close();
    db.close();
  },
);

t.test('a timed write that fails is kept and written by the next one', async (t) => {
  const path = join(dir, 'busy.db');
  const db = openDatabase(path);
  db.pragma('busy_timeout = 0'); // fail at once instead of waiting 5 s for the lock
  const clock = createManualClock();
  const devices = createDeviceRepo(db, { writeBehindMs: 5, clock });
  devices.add('se7-01', 'bm1684x', {}, 1000);
  const other = new Database(path);
  t.teardown(() => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
    db.close();
  });
  const committed = () =>
    (other.prepare('SELECT online FROM devices WHERE id = ?').get('se7-01') as { online: number })
      .online;
  other.exec('BEGIN IMMEDIATE'); // holds the write lock: the timed write gets SQLITE_BUSY
  devices.setPresence('se7-01', true, 2000);
  await clock.advance(5);
  t.equal(devices.require('se7-01').online, true, 'readers still see the queued value');
  other.exec('COMMIT');
  t.equal(committed(), 0, 'not written while the lock was held');
  await clock.advance(5);
  t.equal(committed(), 1, 'written by the next timed write');
});
