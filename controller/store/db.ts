// The controller's SQLite database (better-sqlite3): WAL for concurrent readers, synchronous
// FULL so an acknowledged write survives power loss, foreign keys on, migrations on open.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { bmfError } from '../../shared/errors.js';
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
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
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
