// A throwaway PostgreSQL server for tests: initdb in a temp dir, listening only on a unix socket
// in that dir (no port to collide with), ended (fast shutdown) and its dir removed when the test
// ends. Run as the `postgres` user when the tests run as root (initdb refuses root).
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Test } from 'tap';
import { endProcess, spawnForTest } from './processes.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

/** Debian's postgresql 15 (what .ci/run installs); BMFLEET_PG_BIN points elsewhere. */
export const PG_BIN = process.env.BMFLEET_PG_BIN ?? '/usr/lib/postgresql/15/bin';

const isRoot = process.getuid?.() === 0;

function postgresUser(): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Why PostgreSQL tests cannot run here, or false when they can. */
export function postgresSkip(): false | string {
  for (const b of ['initdb', 'postgres']) {
    if (!existsSync(join(PG_BIN, b))) {
      return `PostgreSQL binaries absent (${join(PG_BIN, b)}; apt-get install postgresql)`;
    }
  }
  if (isRoot && !postgresUser()) return 'running as root and there is no postgres user';
  if (isRoot && !existsSync('/usr/sbin/runuser')) return 'running as root without runuser';
  return false;
}

export interface TestPostgres {
  /** URL of a database made for the caller (fresh each call). */
  newDatabase(): Promise<string>;
  /** The socket directory (the URL's host). */
  readonly dir: string;
}

function asServerUser(command: string, args: readonly string[]): [string, string[]] {
  return isRoot
    ? ['/usr/sbin/runuser', ['-u', 'postgres', '--', command, ...args]]
    : [command, [...args]];
}

export async function startPostgres(t: Test): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'bmf-pg-'));
  if (isRoot) {
    const u = postgresUser() as { uid: number; gid: number };
    chownSync(dir, u.uid, u.gid);
  }
  const data = join(dir, 'data');
  const urlOf = (db: string) =>
    `postgresql://bmfleet@localhost/${db}?host=${encodeURIComponent(dir)}`;
  const [initCmd, initArgs] = asServerUser(join(PG_BIN, 'initdb'), [
    '-D',
    data,
    '-U',
    'bmfleet',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--no-sync',
    '--no-instructions',
  ]);
  try {
    await run(initCmd, initArgs);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const [cmd, args] = asServerUser(join(PG_BIN, 'postgres'), [
    '-D',
    data,
    '-k',
    dir,
    '-c',
    'listen_addresses=',
    '-c',
    'fsync=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=100',
  ]);
  const server = spawnForTest(t, cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr?.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4000)));
  t.teardown(async () => {
    // SIGINT is PostgreSQL's fast shutdown: clients are disconnected, then it exits.
    if (server.pid !== undefined) {
      try {
        process.kill(-server.pid, 'SIGINT');
      } catch {
        // gone already
      }
    }
    await endProcess(server, 15_000);
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(
    'postgres accepting connections',
    async () => {
      if (server.exitCode !== null) throw new Error(`postgres exited: ${log}`);
      const c = new pg.Client({ connectionString: urlOf('postgres') });
      try {
        await c.connect();
        await c.end();
        return true;
      } catch {
        await c.end().catch(() => undefined);
        return false;
      }
    },
    60_000,
  );
  let n = 0;
  return {
    dir,
    async newDatabase() {
      const name = `t${++n}`;
      const c = new pg.Client({ connectionString: urlOf('postgres') });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return urlOf(name);
    },
  };
}
