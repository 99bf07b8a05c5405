// Unique digest prefixes (>= 8 hex digits) name a bundle as git's abbreviated names do; a prefix
// that is too short or ambiguous is BMF_ERR_DIGEST_PREFIX listing the candidates. Cases as data.
import t from 'tap';
import { join } from 'node:path';
import { createBundleRepo } from '../../../controller/store/bundles.js';
import { openDatabase } from '../../../controller/store/db.js';
import { createRegistry } from '../../../controller/registry/registry.js';
import { makeBundle, makeKeystore, NOW } from './make-bundle.js';

const dir = t.testdir();
const ks = await makeKeystore(dir);
const db = openDatabase(':memory:');
t.teardown(() => db.close());
const registry = createRegistry({
  store: createBundleRepo(db),
  blobDir: join(dir, 'blobs'),
  root: await ks.readRoot(),
  clock: { wallNow: () => NOW + 1000 },
});
const real = (await registry.importBundleDir((await makeBundle(ks, join(dir, 'b1'))).dir)).digest;

// Two rows that share their first ten hex digits, so a prefix can be ambiguous.
const twinA = `abcdef0123${'0'.repeat(54)}`;
const twinB = `abcdef0123${'1'.repeat(54)}`;
const insert = db.prepare(
  'INSERT INTO bundles(digest, model, version, sequence, precision, chips, manifest, envelope, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
);
insert.run(twinA, 'tiny-cnn', '9.0.0', 90, 'fp32', '["bm1684x"]', '{}', Buffer.from('{}'), NOW);
insert.run(twinB, 'tiny-cnn', '9.0.1', 91, 'fp32', '["bm1684x"]', '{}', Buffer.from('{}'), NOW);

const cases: [string, string, string | { code: string; message: RegExp }][] = [
  ['full digest', real, real],
  ['8-digit prefix', real.slice(0, 8), real],
  ['upper-case prefix', real.slice(0, 12).toUpperCase(), real],
  ['unique 11-digit prefix of a twin', twinB.slice(0, 11), twinB],
  [
    'ambiguous prefix lists both',
    'abcdef0123',
    {
      code: 'BMF_ERR_DIGEST_PREFIX',
      message: new RegExp(`abcdef0123 is ambiguous: 2 bundles .*candidates: ${twinA}, ${twinB}`),
    },
  ],
  [
    'too short lists the candidates',
    'abcd',
    {
      code: 'BMF_ERR_DIGEST_PREFIX',
      message: new RegExp(`abcd is too short: give at least 8 .*candidates: ${twinA}, ${twinB}`),
    },
  ],
  ['no match', '00000000', { code: 'BMF_ERR_NOT_FOUND', message: /bundle 00000000 not found/ }],
  ['not hex', 'zz', { code: 'BMF_ERR_NOT_FOUND', message: /bundle zz not found/ }],
];

for (const [name, ref, want] of cases) {
  t.test(name, async (t) => {
    if (typeof want === 'string') {
      t.equal(await registry.resolveDigest(ref), want);
      t.equal((await registry.getBundle(ref))?.digest, want);
    } else {
      await t.rejects(registry.resolveDigest(ref), want);
      await t.rejects(registry.getBundle(ref), want);
    }
  });
}
