import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../controller/store/db.js';
import { createDeviceRepo } from '../../../controller/store/devices.js';

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
