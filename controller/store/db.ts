// The controller's SQLite database (better-sqlite3): WAL for concurrent readers, synchronous
// FULL so an acknowledged write survives power loss, foreign keys on, migrations on open.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { bmfError, isBmfError } from '../../shared/errors.js';
import { sqliteMigrations } from './schema.js';

export type Db = Database.Database;

export function openDatabase(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  let db: Db;
  try {
    db = new Database(path);
  } catch (e) {
    throw bmfError('BMF_ERR_STORE', { reason: `cannot open ${path}: ${(e as Error).message}` });
  }
  // Closed again when it cannot be used (not a database, a newer schema): a controller built in
  // a process that goes on (tests, fleet simulation) must not keep the file open.
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db);
  } catch (e) {
    db.close();
    if (isBmfError(e)) throw e;
    throw bmfError(
      'BMF_ERR_STORE',
      { reason: `cannot use ${path}: ${(e as Error).message}` },
      { cause: e },
    );
  }
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > sqliteMigrations.length) {
    throw bmfError('BMF_ERR_STORE', {
      reason: `database schema version ${current} is newer than this controller (${sqliteMigrations.length})`,
    });
  }
  for (let v = current; v < sqliteMigrations.length; v++) {
    db.transaction(() => {
      db.exec(sqliteMigrations[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
