import t from 'tap';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { errorCatalogue, bmfError, isBmfError, toBmfError } from '../../shared/errors.js';

const docs = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const documented = new Set(docs.match(/BMF_ERR_[A-Z0-9_]+/g) ?? []);
const defined = new Set(Object.keys(errorCatalogue));

t.test('every defined code is documented in docs/errors.md', async (t) => {
  const missing = [...defined].filter((c) => !documented.has(c));
  t.same(missing, [], `undocumented codes: ${missing.join(', ')}`);
});

t.test('every documented code exists in shared/errors.ts', async (t) => {
  const stale = [...documented].filter((c) => !defined.has(c));
  t.same(stale, [], `documented but undefined: ${stale.join(', ')}`);
});

t.test('codes follow the naming rule and HTTP statuses are sane', async (t) => {
  for (const [code, spec] of Object.entries(errorCatalogue)) {
    t.match(code, /^BMF_ERR_[A-Z0-9_]+$/, code);
    t.ok(spec.status >= 400 && spec.status < 600, `${code} status ${spec.status}`);
  }
});

t.test('messages render details and keep the code', async (t) => {
  const e = bmfError('BMF_ERR_BMODEL_TRUNCATED', { offset: 64, reason: 'flatbuffer ends early' });
  t.equal(e.code, 'BMF_ERR_BMODEL_TRUNCATED');
  t.equal(e.message, 'BMODEL truncated at offset 64: flatbuffer ends early');
  t.equal(e.status, 400);
  t.ok(isBmfError(e, 'BMF_ERR_BMODEL_TRUNCATED'));
  t.notOk(isBmfError(e, 'BMF_ERR_BMODEL_MAGIC'));
  t.same(JSON.parse(JSON.stringify(e)).code, 'BMF_ERR_BMODEL_TRUNCATED');
  t.equal(toBmfError(new Error('boom')).code, 'BMF_ERR_INTERNAL');
});

t.test('a file system error that names its path is BMF_ERR_IO at the edge', async (t) => {
  const path = '/nonexistent/bmfleet/spec.json';
  const e = await readFile(path).catch((err: unknown) => err);
  const wrapped = toBmfError(e);
  t.equal(wrapped.code, 'BMF_ERR_IO');
  t.equal(wrapped.details.path, path);
  t.match(wrapped.message, /^I\/O error on \/nonexistent\/bmfleet\/spec\.json: ENOENT/);
  t.equal(wrapped.cause, e);
});

t.test('lookedIn and hint details follow the message', async (t) => {
  const e = bmfError('BMF_ERR_KEYS_MISSING', {
    dir: 'keys',
    lookedIn: '/srv/keys',
    hint: 'run bmfleet keys init --dir /srv/keys',
  });
  t.equal(
    e.message,
    'signing keys not found in keys: run bmfleet keys init (looked in /srv/keys); hint: run bmfleet keys init --dir /srv/keys',
  );
  t.equal(bmfError('BMF_ERR_USAGE', { reason: 'x' }).message, 'bad command line: x');
});
