// A SQLite file the controller cannot use (not a database, or a schema newer than this build) is
// BMF_ERR_STORE naming the file, and the file is closed again: several controllers share one
// process in tests and fleet simulation, and a refused one must not keep its file open.
import t from 'tap';
import Database from 'better-sqlite3';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../controller/store/db.js';
import { sqliteMigrations } from '../../../controller/store/schema.js';

/** Descriptors of this process open on `path` (Linux /proc). */
function openOn(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false; // closed between the listing and the read
    }
  }).length;
}

const dir = mkdtempSync(join(tmpdir(), 'bmf-store-refused-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('a file that is not a SQLite database', async (t) => {
  const path = join(dir, 'garbage.db');
  writeFileSync(path, 'this is not a database, it is a text file long enough to have a header');
  t.throws(() => openDatabase(path), {
    code: 'BMF_ERR_STORE',
    message: new RegExp(`cannot use ${path}`),
  });
  t.equal(openOn(path), 0, 'the file is closed again');
});

t.test('a database from a newer controller', async (t) => {
  const path = join(dir, 'newer.db');
  const db = new Database(path);
  db.pragma(`user_version = ${sqliteMigrations.length + 1}`);
  db.close();
  t.throws(() => openDatabase(path), { code: 'BMF_ERR_STORE', message: /is newer than/ });
  t.equal(openOn(path), 0, 'the file is closed again');
});
