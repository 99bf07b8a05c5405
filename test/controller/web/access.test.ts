// Dashboard access over HTTP against a real controller: sign-in to a session cookie, CSRF on
// changes, the read-only role, typed refusals, and that nothing is changed by a refused request.
import t from 'tap';
import {
  startTestController,
  type TestController,
} from '../../../harness/controller/test-controller.js';

const READ_ONLY = 'read-only-token-0123456789';

const ctl: TestController = await startTestController(undefined, {
  'api.readOnlyTokens': [READ_ONLY],
});
t.teardown(() => ctl.handle.stop());
const base = ctl.handle.apiUrl;

async function signIn(token: string) {
  const r = await fetch(`${base}/ui/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  return { status: r.status, body: (await r.json()) as Record<string, unknown>, cookie, raw: r };
}

interface Case {
  readonly name: string;
  readonly as: 'operator' | 'viewer' | 'none' | 'bearer-viewer';
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly csrf: 'own' | 'none' | 'wrong';
  readonly body?: unknown;
  readonly status: number;
  readonly code?: string;
}

// Enrolment (POST /v1/devices) is the change: it either creates the device or leaves no trace.
const cases: Case[] = [
  {
    name: 'operator reads',
    as: 'operator',
    method: 'GET',
    path: '/v1/devices',
    csrf: 'none',
    status: 200,
  },
  {
    name: 'viewer reads',
    as: 'viewer',
    method: 'GET',
    path: '/ui/api/fleet',
    csrf: 'none',
    status: 200,
  },
  {
    name: 'no session: 401',
    as: 'none',
    method: 'GET',
    path: '/ui/api/fleet',
    csrf: 'none',
    status: 401,
    code: 'BMF_ERR_UNAUTHORIZED',
  },
  {
    name: 'operator change without CSRF',
    as: 'operator',
    method: 'POST',
    path: '/v1/devices',
    body: { id: 'csrf-none', chip: 'bm1684x' },
    csrf: 'none',
    status: 403,
    code: 'BMF_ERR_CSRF',
  },
  {
    name: 'operator change with a wrong CSRF',
    as: 'operator',
    method: 'POST',
    path: '/v1/devices',
    body: { id: 'csrf-wrong', chip: 'bm1684x' },
    csrf: 'wrong',
    status: 403,
    code: 'BMF_ERR_CSRF',
  },
  {
    name: 'operator change with its CSRF',
    as: 'operator',
    method: 'POST',
    path: '/v1/devices',
    body: { id: 'csrf-ok', chip: 'bm1684x' },
    csrf: 'own',
    status: 201,
  },
  {
    name: 'viewer change with its CSRF',
    as: 'viewer',
    method: 'POST',
    path: '/v1/devices',
    body: { id: 'viewer-made', chip: 'bm1684x' },
    csrf: 'own',
    status: 403,
    code: 'BMF_ERR_READ_ONLY',
  },
  {
    name: 'read-only bearer change',
    as: 'bearer-viewer',
    method: 'POST',
    path: '/v1/devices',
    body: { id: 'bearer-viewer-made', chip: 'bm1684x' },
    csrf: 'none',
    status: 403,
    code: 'BMF_ERR_READ_ONLY',
  },
  {
    name: 'read-only bearer reads',
    as: 'bearer-viewer',
    method: 'GET',
    path: '/v1/devices',
    csrf: 'none',
    status: 200,
  },
];

t.test('sign-in', async (t) => {
  const bad = await signIn('not-a-token-of-this-controller');
  t.equal(bad.status, 401);
  t.match(bad.body, { error: { code: 'BMF_ERR_SIGNIN_REFUSED' } });
  t.equal(bad.cookie, '', 'no cookie for a refused sign-in');
  const ok = await signIn(ctl.token);
  t.equal(ok.status, 201);
  t.equal(ok.body.role, 'operator');
  const header = ok.raw.headers.get('set-cookie') ?? '';
  t.match(header, /^bmf_session=[A-Za-z0-9_-]{40,};/);
  t.match(header, /; HttpOnly/);
  t.match(header, /; SameSite=Strict/);
  const ro = await signIn(READ_ONLY);
  t.equal(ro.body.role, 'viewer');
});

t.test('roles and CSRF', async (t) => {
  const op = await signIn(ctl.token);
  const viewer = await signIn(READ_ONLY);
  for (const c of cases) {
    const s = c.as === 'operator' ? op : c.as === 'viewer' ? viewer : undefined;
    const headers: Record<string, string> = {};
    if (s) headers.cookie = s.cookie;
    if (c.as === 'bearer-viewer') headers.authorization = `Bearer ${READ_ONLY}`;
    if (c.csrf === 'own' && s) headers['x-csrf-token'] = String(s.body.csrf);
    if (c.csrf === 'wrong') headers['x-csrf-token'] = String(viewer.body.csrf);
    if (c.body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${base}${c.path}`, {
      method: c.method,
      headers,
      ...(c.body !== undefined ? { body: JSON.stringify(c.body) } : {}),
    });
    t.equal(r.status, c.status, c.name);
    const body = (await r.json()) as { error?: { code: string } };
    if (c.code) t.equal(body.error?.code, c.code, `${c.name}: ${c.code}`);
    const id = (c.body as { id?: string } | undefined)?.id;
    if (id) {
      const after = await fetch(`${base}/v1/devices/${id}`, { headers: ctl.auth });
      t.equal(after.status, c.status === 201 ? 200 : 404, `${c.name}: stored only when allowed`);
    }
  }
});

t.test('a page without a session goes to sign-in; the report opens with the session', async (t) => {
  const r = await fetch(`${base}/experiments/x/report`, {
    headers: { accept: 'text/html' },
    redirect: 'manual',
  });
  t.equal(r.status, 303);
  t.equal(r.headers.get('location'), '/?next=%2Fexperiments%2Fx%2Freport');
  const op = await signIn(ctl.token);
  const withSession = await fetch(`${base}/experiments/x/report`, {
    headers: { accept: 'text/html', cookie: op.cookie },
  });
  t.equal(withSession.status, 404, 'past authentication: the experiment does not exist');
});

t.test('sign-out ends the session', async (t) => {
  const v = await signIn(READ_ONLY);
  const out = await fetch(`${base}/ui/session`, {
    method: 'DELETE',
    headers: { cookie: v.cookie, 'x-csrf-token': String(v.body.csrf) },
  });
  t.equal(out.status, 204, 'a read-only session may sign itself out');
  const after = await fetch(`${base}/ui/session`, { headers: { cookie: v.cookie } });
  t.equal(after.status, 401);
});

t.test('the app shell and bundle are public; the shell names no external host', async (t) => {
  const shell = await fetch(`${base}/`);
  t.equal(shell.status, 200);
  const html = await shell.text();
  t.notMatch(html, /https?:\/\//, 'no external URL in the shell');
  t.match(shell.headers.get('content-security-policy') ?? '', /default-src 'self'/);
});
