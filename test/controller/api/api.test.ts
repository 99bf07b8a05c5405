import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitForValue } from '../../../harness/wait.js';
import {
  connectFakeDevice,
  FIXTURES,
  makeSignedBundle,
  startTestController,
} from '../../../harness/controller/test-controller.js';
import { encodeReport } from '../../../harness/controller/telemetry-reports.js';
import { deviceTopic } from '../../../shared/wire/topics.js';

interface BadBody {
  name: string;
  url: string;
  body?: unknown;
  raw?: string;
  status: number;
  code: string;
  field?: string;
}

const ctl = await startTestController();
t.teardown(() => ctl.handle.stop());
const { api } = ctl.handle;
const auth = ctl.auth;

t.test('operator token: missing or wrong -> 401; probes and docs are public', async (t) => {
  for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: ctl.token }]) {
    const r = await api.inject({ method: 'GET', url: '/v1/devices', headers });
    t.equal(r.statusCode, 401);
    t.equal(r.json().error.code, 'BMF_ERR_UNAUTHORIZED');
  }
  t.equal((await api.inject({ url: '/healthz' })).statusCode, 200);
  t.same((await api.inject({ url: '/readyz' })).json(), { status: 'ready' });
  t.equal((await api.inject({ url: '/metrics' })).statusCode, 401, '/metrics needs the token');
  const ok = await api.inject({ url: '/v1/devices', headers: auth });
  t.equal(ok.statusCode, 200);
});

t.test('OpenAPI document lists every route with its schemas', async (t) => {
  const r = await api.inject({ url: '/docs/json' });
  t.equal(r.statusCode, 200);
  const doc = r.json() as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
  for (const p of [
    '/v1/devices',
    '/v1/devices/{id}',
    '/v1/devices/{id}/assignment',
    '/v1/models',
    '/v1/bundles',
    '/v1/bundles/{digest}',
    '/v1/rollouts',
    '/v1/rollouts/{id}',
    '/v1/rollouts/{id}/{command}',
    '/v1/rollouts/{id}/events',
    '/v1/telemetry',
    '/v1/telemetry/rollouts/{id}/groups/{n}',
    '/v1/blobs/{digest}',
    '/v1/experiments',
    '/v1/experiments/plan',
    '/v1/experiments/{id}',
    '/v1/experiments/{id}/start',
    '/v1/experiments/{id}/analysis',
    '/v1/experiments/{id}/report',
    '/v1/experiments/{id}/promote',
    '/v1/experiments/{id}/abort',
    '/metrics',
    '/healthz',
    '/readyz',
  ]) {
    t.ok(doc.paths[p], `documents ${p}`);
  }
  t.ok(doc.paths['/v1/rollouts']?.post?.requestBody, 'request body schema documented');
  t.ok(doc.paths['/v1/experiments']?.post?.requestBody, 'plugin bodies documented too');
  const root = new Set(['/healthz', '/readyz', '/metrics', '/experiments/{id}/report']);
  const outside = Object.keys(doc.paths).filter((p) => !p.startsWith('/v1/') && !root.has(p));
  t.same(outside, [], 'every resource is under /v1 (probes and the old report link aside)');
});

t.test('the report link older releases printed redirects to its /v1 path', async (t) => {
  const r = await api.inject({ url: '/experiments/exp-1/report', headers: auth });
  t.equal(r.statusCode, 308);
  t.equal(r.headers.location, '/v1/experiments/exp-1/report');
  const anonymous = await api.inject({ url: '/experiments/exp-1/report' });
  t.equal(anonymous.statusCode, 401, 'the redirect needs the operator token like the report');
  const missing = await api.inject({ url: '/v1/experiments/exp-1/report', headers: auth });
  t.equal(missing.json().error.code, 'BMF_ERR_NOT_FOUND');
});

t.test('device enrolment returns a one-time secret and an agent config', async (t) => {
  const r = await api.inject({
    method: 'POST',
    url: '/v1/devices',
    headers: { ...auth, 'content-type': 'application/json' },
    payload: { id: 'dev-a', chip: 'bm1684x', tags: { site: 'berlin' } },
  });
  t.equal(r.statusCode, 201);
  const body = r.json();
  t.match(body.secret, /^[A-Za-z0-9_-]{40,}$/);
  t.equal(body.agentConfig.deviceId, 'dev-a');
  t.equal(body.agentConfig.broker.password, body.secret);
  t.equal(body.agentConfig.broker.protocolVersion, 4);
  t.equal(body.agentConfig.runtime, 'auto');
  const root = JSON.parse(await readFile(join(ctl.dataDir, 'keys', 'root.json'), 'utf8'));
  t.same(body.trustRoot, root, 'the pinned root is the controller root');

  const again = await api.inject({
    method: 'POST',
    url: '/v1/devices',
    headers: { ...auth, 'content-type': 'application/json' },
    payload: { id: 'dev-a', chip: 'bm1684x' },
  });
  t.equal(again.statusCode, 409);
  t.equal(again.json().error.code, 'BMF_ERR_CONFLICT');

  const list = (await api.inject({ url: '/v1/devices', headers: auth })).json();
  t.same(
    list.devices.map((d: { id: string }) => d.id),
    ['dev-a'],
  );
  t.notOk(JSON.stringify(list).includes(body.secret), 'the secret is never listed');
  const one = (await api.inject({ url: '/v1/devices/dev-a', headers: auth })).json();
  t.equal(one.online, false);
  t.same(one.tags, { site: 'berlin' });
});

t.test('bad bodies are 400 with the field named; oversized is 413', async (t) => {
  const cases = JSON.parse(await readFile(join(FIXTURES, 'bad-bodies.json'), 'utf8')) as BadBody[];
  for (const c of cases) {
    const r = await api.inject({
      method: 'POST',
      url: c.url,
      headers: { ...auth, 'content-type': 'application/json' },
      payload: c.raw ?? JSON.stringify(c.body),
    });
    t.equal(r.statusCode, c.status, `${c.name}: status`);
    const err = r.json().error;
    t.equal(err.code, c.code, `${c.name}: code`);
    if (c.field) t.equal(err.details.field, c.field, `${c.name}: field`);
  }
  const big = await api.inject({
    method: 'POST',
    url: '/v1/devices',
    headers: { ...auth, 'content-type': 'application/json' },
    payload: JSON.stringify({ id: 'x', chip: 'bm1684x', tags: { pad: 'x'.repeat(100_000) } }),
  });
  t.equal(big.statusCode, 413);
  t.equal(big.json().error.code, 'BMF_ERR_BODY_TOO_LARGE');
});

t.test('a missing or wrong content type is 415 naming it and application/json', async (t) => {
  const wrong = await api.inject({
    method: 'POST',
    url: '/v1/devices',
    headers: { ...auth, 'content-type': 'text/csv' },
    payload: 'id,chip',
  });
  t.equal(wrong.statusCode, 415);
  t.same(wrong.json().error.code, 'BMF_ERR_CONTENT_TYPE');
  t.equal(
    wrong.json().error.message,
    'content type text/csv not supported; accepted: application/json',
  );
  const missing = await api.inject({
    method: 'POST',
    url: '/v1/devices',
    headers: auth,
    payload: Buffer.from('{"id":"x","chip":"bm1684x"}'),
  });
  t.equal(missing.statusCode, 415);
  t.equal(missing.json().error.message, 'content type missing; accepted: application/json');
});

t.test('unknown ids and routes are 404 in the one error shape', async (t) => {
  const digest = '0'.repeat(64);
  for (const [method, url, payload] of [
    ['GET', '/v1/devices/nobody'],
    ['DELETE', '/v1/devices/nobody'],
    ['GET', `/v1/bundles/${digest}`],
    ['GET', '/v1/rollouts/r-none'],
    ['GET', '/v1/rollouts/r-none/events'],
    ['POST', '/v1/rollouts/r-none/pause'],
    ['GET', '/v1/telemetry/rollouts/r-none/groups/0'],
    ['GET', '/v1/telemetry?device=nobody'],
    ['POST', '/v1/devices/nobody/assignment', { bundle: digest }],
    ['POST', '/v1/devices/dev-a/assignment', { bundle: digest }],
    ['POST', '/v1/rollouts', { bundle: digest, filter: {} }],
    ['GET', '/v1/nothing-here'],
  ] as const) {
    const r = await api.inject({
      method,
      url,
      headers: auth,
      ...(payload ? { payload } : {}),
    });
    t.equal(r.statusCode, 404, `${method} ${url}`);
    t.equal(r.json().error.code, 'BMF_ERR_NOT_FOUND', `${method} ${url} code`);
  }
});

t.test('bundle import, listing, rollout validation and lifecycle commands', async (t) => {
  const b = await makeSignedBundle(ctl.dataDir);
  const imported = await api.inject({
    method: 'POST',
    url: '/v1/bundles',
    headers: auth,
    payload: { dir: b.dir },
  });
  t.equal(imported.statusCode, 201);
  t.equal(imported.json().digest, b.digest);
  t.notOk('envelope' in imported.json(), 'raw envelope bytes are not part of the view');
  const models = (await api.inject({ url: '/v1/models', headers: auth })).json().models;
  t.equal(models[0].name, 'api-test-model');
  t.equal(models[0].latest.digest, b.digest);
  const bundles = (
    await api.inject({ url: '/v1/bundles?model=api-test-model', headers: auth })
  ).json().bundles;
  t.equal(bundles.length, 1);
  const shown = (await api.inject({ url: `/v1/bundles/${b.digest}`, headers: auth })).json();
  t.equal(shown.files[0].role, 'bmodel');
  // Who signed it: the controller's bundle key, as the pinned root lists it.
  const rootDoc = JSON.parse(await readFile(join(ctl.dataDir, 'keys', 'root.json'), 'utf8')) as {
    signed: { roles: { bundle: { keyids: string[] } } };
  };
  t.same(
    shown.signatures,
    rootDoc.signed.roles.bundle.keyids.map((keyid) => ({
      keyid,
      algorithm: 'ed25519',
      roles: ['bundle'],
      verified: true,
    })),
    'signatures: key ids, algorithm and role from the root',
  );
  t.equal(shown.expired, false, 'a fresh bundle has not expired');
  t.ok(Date.parse(shown.expires) > Date.now(), 'expiry from the signed manifest');

  const missingDir = await api.inject({
    method: 'POST',
    url: '/v1/bundles',
    headers: auth,
    payload: { dir: join(ctl.dataDir, 'no-such-bundle') },
  });
  t.equal(missingDir.statusCode, 400);
  t.equal(missingDir.json().error.code, 'BMF_ERR_BUNDLE_FILE_MISSING');

  const empty = await api.inject({
    method: 'POST',
    url: '/v1/rollouts',
    headers: auth,
    payload: { bundle: b.digest, filter: { tags: { site: 'mars' } } },
  });
  t.equal(empty.statusCode, 400);
  t.equal(empty.json().error.code, 'BMF_ERR_ROLLOUT_EMPTY');

  const created = await api.inject({
    method: 'POST',
    url: '/v1/rollouts',
    headers: auth,
    payload: { id: 'r-api', bundle: b.digest, filter: { chip: 'bm1684x' }, afterGroup: 'approval' },
  });
  t.equal(created.statusCode, 201);
  t.equal(created.json().status, 'running');
  t.same(created.json().groups[0], { index: 0, size: 1, counts: { assigned: 1 } });

  const approve = await api.inject({
    method: 'POST',
    url: '/v1/rollouts/r-api/approve',
    headers: auth,
  });
  t.equal(approve.statusCode, 409, 'approve while running is a state error');
  t.equal(approve.json().error.code, 'BMF_ERR_ROLLOUT_STATE');
  const paused = await api.inject({
    method: 'POST',
    url: '/v1/rollouts/r-api/pause',
    headers: auth,
  });
  t.equal(paused.json().status, 'paused');
  const cancelled = await api.inject({
    method: 'POST',
    url: '/v1/rollouts/r-api/cancel',
    headers: auth,
  });
  t.equal(cancelled.json().status, 'cancelled');
  const resumeCancelled = await api.inject({
    method: 'POST',
    url: '/v1/rollouts/r-api/resume',
    headers: auth,
  });
  t.equal(resumeCancelled.statusCode, 409);

  const events = (await api.inject({ url: '/v1/rollouts/r-api/events', headers: auth })).json()
    .events;
  t.ok(events.some((e: { type: string }) => e.type === 'group_started'));
  const list = (await api.inject({ url: '/v1/rollouts', headers: auth })).json().rollouts;
  t.equal(list[0].id, 'r-api');
  const group = (
    await api.inject({ url: '/v1/telemetry/rollouts/r-api/groups/0', headers: auth })
  ).json();
  t.equal(group.devices, 1);
  t.equal(group.health.requests, 0);
  const missingGroup = await api.inject({
    url: '/v1/telemetry/rollouts/r-api/groups/5',
    headers: auth,
  });
  t.equal(missingGroup.statusCode, 404);

  const telemetry = await api.inject({ url: `/v1/telemetry?bundle=${b.digest}`, headers: auth });
  t.equal(telemetry.statusCode, 200);
  t.equal(telemetry.json().requests, 0);

  const metrics = await api.inject({ url: '/metrics', headers: auth });
  t.equal(metrics.statusCode, 200);
  t.match(metrics.headers['content-type'], /text\/plain/);
  t.match(
    metrics.body,
    /bmfleet_api_requests_total\{method="POST",route="\/v1\/rollouts",status="201",replica="[^"]+"\} 1/,
  );

  const removed = await api.inject({ method: 'DELETE', url: '/v1/devices/dev-a', headers: auth });
  t.equal(removed.statusCode, 204);
  t.equal((await api.inject({ url: '/v1/devices/dev-a', headers: auth })).statusCode, 404);
});

t.test("GET /v1/telemetry carries a board's TPU figures as it reported them", async (t) => {
  const added = await api.inject({
    method: 'POST',
    url: '/v1/devices',
    headers: auth,
    payload: { id: 'tpu-board', chip: 'bm1684x' },
  });
  t.equal(added.statusCode, 201);
  const device = await connectFakeDevice(ctl.handle.brokerUrl, 'tpu-board', added.json().secret);
  t.teardown(() => device.close());
  const report = encodeReport({
    deviceId: 'tpu-board',
    intervalStartMs: Date.now(),
    runtime: 'bmrt',
    latency: { e2e: [2, 3] },
    device: { tpuPercent: 42.5, tpuMemUsedBytes: 300 * 2 ** 20, tpuMemTotalBytes: 4096 * 2 ** 20 },
  });
  await device.client.publishAsync(deviceTopic('telemetry', 'tpu-board'), Buffer.from(report), {
    qos: 1,
  });
  const tpu = await waitForValue('the report', async () => {
    const r = await api.inject({ url: '/v1/telemetry?device=tpu-board', headers: auth });
    const body = r.json() as { tpu: { reports: number } };
    return body.tpu.reports > 0 ? body.tpu : undefined;
  });
  t.match(tpu, {
    reports: 1,
    percentMean: 42.5,
    percentMax: 42.5,
    memUsedBytesMax: 300 * 2 ** 20,
    latest: { percent: 42.5, memUsedBytes: 300 * 2 ** 20, memTotalBytes: 4096 * 2 ** 20 },
  });
});
