import t from 'tap';
import Fastify from 'fastify';
import { readFileSync } from 'node:fs';
import { installErrorHandling } from '../../../controller/api/errors.js';
import { blobDownloadRoutes } from '../../../controller/distribution/http.js';
import { decideRange } from '../../../controller/distribution/http-range.js';
import { FIXTURES } from '../registry/make-bundle.js';
import { startSlice } from './harness.js';

const cases = JSON.parse(readFileSync(`${FIXTURES}range-cases.json`, 'utf8')) as {
  header: string | null;
  size: number;
  expect: unknown;
}[];

t.test('range decisions', async (t) => {
  for (const c of cases) {
    t.same(decideRange(c.header ?? undefined, c.size), c.expect, String(c.header));
  }
});

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

t.test('blob download: auth, assignment check, ranges (inject and a real server)', async (t) => {
  const s = await startSlice(t, {
    devices: [
      ['dev-1', 'bm1684x'],
      ['dev-2', 'bm1684x'],
    ],
  });
  await s.assignments.assignBundle('dev-1', s.bundle.digest, 'test');
  // Mounted as the API mounts it: errors through the API's one error handler and shape.
  const app = Fastify();
  installErrorHandling(app);
  await app.register(blobDownloadRoutes, {
    registry: s.registry,
    devices: s.repo,
    assignments: s.assignments,
  });
  t.teardown(() => app.close());
  const url = `/v1/blobs/${s.bundle.bmodelSha256}`;
  const auth1 = basic('dev-1', s.secrets.get('dev-1') ?? '');
  const blob = s.bundle.bmodel;

  const full = await app.inject({ url, headers: { authorization: auth1 } });
  t.equal(full.statusCode, 200);
  t.ok(full.rawPayload.equals(blob), 'full body');
  t.equal(full.headers['accept-ranges'], 'bytes');

  const part = await app.inject({ url, headers: { authorization: auth1, range: 'bytes=100-199' } });
  t.equal(part.statusCode, 206);
  t.equal(part.headers['content-range'], `bytes 100-199/${blob.length}`);
  t.ok(part.rawPayload.equals(blob.subarray(100, 200)), 'range body');

  const bad = await app.inject({
    url,
    headers: { authorization: auth1, range: 'bytes=99999999-' },
  });
  t.equal(bad.statusCode, 416);
  t.equal(bad.headers['content-range'], `bytes */${blob.length}`);
  t.equal(bad.json().error.code, 'BMF_ERR_RANGE_NOT_SATISFIABLE');

  const anon = await app.inject({ url });
  t.equal(anon.statusCode, 401);
  t.match(anon.headers['www-authenticate'], /^Basic /);
  t.equal(anon.json().error.code, 'BMF_ERR_DEVICE_AUTH', 'the one error shape');
  const wrong = await app.inject({ url, headers: { authorization: basic('dev-1', 'nope') } });
  t.equal(wrong.statusCode, 401);
  const other = await app.inject({
    url,
    headers: { authorization: basic('dev-2', s.secrets.get('dev-2') ?? '') },
  });
  t.equal(other.statusCode, 403, 'blob not assigned to dev-2');
  t.equal(other.json().error.code, 'BMF_ERR_FORBIDDEN');
  const unknown = await app.inject({
    url: `/v1/blobs/${'e'.repeat(64)}`,
    headers: { authorization: auth1 },
  });
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.json().error.code, 'BMF_ERR_NOT_FOUND');
  const malformed = await app.inject({
    url: '/v1/blobs/..%2F..',
    headers: { authorization: auth1 },
  });
  t.equal(malformed.statusCode, 400, 'digest pattern enforced by the route schema');

  // The same over a real socket, resuming a download in two ranges.
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const head = await fetch(`${base}${url}`, {
    headers: { authorization: auth1, range: 'bytes=0-999' },
  });
  const tail = await fetch(`${base}${url}`, {
    headers: { authorization: auth1, range: 'bytes=1000-' },
  });
  t.equal(head.status, 206);
  t.equal(tail.status, 206);
  const joined = Buffer.concat([
    Buffer.from(await head.arrayBuffer()),
    Buffer.from(await tail.arrayBuffer()),
  ]);
  t.ok(joined.equals(blob), 'two ranges over HTTP make the blob');
  const denied = await fetch(`${base}${url}`);
  t.equal(denied.status, 401);
  await denied.arrayBuffer();
});
