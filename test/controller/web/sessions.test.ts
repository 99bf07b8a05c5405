// Dashboard sessions live in the controller's store: a browser signed in before a restart is
// still signed in after it (same data dir), the store holds only the digest of the session id,
// and signing out deletes the session for good.
import t from 'tap';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { startTestController } from '../../../harness/controller/test-controller.js';
import { sessionIdHash } from '../../../controller/web/session.js';

async function signIn(base: string, token: string) {
  const r = await fetch(`${base}/ui/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  return { status: r.status, cookie, csrf: ((await r.json()) as { csrf: string }).csrf };
}

const fleet = (base: string, cookie: string) =>
  fetch(`${base}/ui/api/fleet`, { headers: { cookie } }).then((r) => r.status);

t.test('a session survives a controller restart; sign-out deletes it', async (t) => {
  const first = await startTestController();
  let stopped = false;
  t.teardown(() => (stopped ? undefined : first.handle.stop()));
  const s = await signIn(first.handle.apiUrl, first.token);
  t.equal(s.status, 201);
  t.equal(await fleet(first.handle.apiUrl, s.cookie), 200, 'signed in');
  const id = s.cookie.slice(s.cookie.indexOf('=') + 1);

  // What a copy of the database gives away: the digest, never the id the cookie carries.
  const db = new Database(join(first.dataDir, 'controller.db'), { readonly: true });
  const rows = db.prepare('SELECT id_hash, csrf FROM dashboard_sessions').all() as {
    id_hash: string;
  }[];
  db.close();
  t.same(
    rows.map((r) => r.id_hash),
    [sessionIdHash(id)],
    'one row, keyed by the digest',
  );
  t.notMatch(JSON.stringify(rows), id, 'the session id itself is not stored');

  await first.handle.stop();
  stopped = true;
  const second = await startTestController(first.dataDir);
  t.teardown(() => second.handle.stop());
  const base = second.handle.apiUrl;
  t.equal(await fleet(base, s.cookie), 200, 'the cookie still works after the restart');
  const own = await fetch(`${base}/ui/session`, { headers: { cookie: s.cookie } });
  t.same(await own.json(), { role: 'operator', csrf: s.csrf }, 'same role and CSRF token');

  // A cookie that was never issued, and one shaped wrongly, are refused.
  t.equal(await fleet(base, `bmf_session=${'A'.repeat(43)}`), 401);
  t.equal(await fleet(base, `bmf_session=${sessionIdHash(id)}`), 401, 'the digest is no cookie');

  const out = await fetch(`${base}/ui/session`, {
    method: 'DELETE',
    headers: { cookie: s.cookie, 'x-csrf-token': s.csrf },
  });
  t.equal(out.status, 204);
  t.equal(await fleet(base, s.cookie), 401, 'signed out: the cookie no longer works');
});
