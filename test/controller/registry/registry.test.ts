import t, { type Test } from 'tap';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { canonicalBytes } from '../../../shared/bundle/canonical.js';
import { createBundleRepo } from '../../../controller/store/bundles.js';
import { openDatabase } from '../../../controller/store/db.js';
import { createRegistry } from '../../../controller/registry/registry.js';
import { blobPath as bundleBlobPath } from '../../../shared/bundle/layout.js';
import { createKeystore } from '../../../shared/trust/keystore.js';
import { makeBundle, makeKeystore, NOW } from './make-bundle.js';

const clock = { wallNow: () => NOW + 1000 };

async function setup(t: Test) {
  const dir = t.testdir();
  const ks = await makeKeystore(dir);
  const db = openDatabase(':memory:');
  t.teardown(() => db.close());
  const blobDir = join(dir, 'blobs');
  const registry = createRegistry({
    store: createBundleRepo(db),
    blobDir,
    root: await ks.readRoot(),
    clock,
  });
  return { dir, ks, db, blobDir, registry };
}

t.test('imports a signed bundle into the content-addressed store, idempotently', async (t) => {
  const { dir, ks, db, blobDir, registry } = await setup(t);
  const b = await makeBundle(ks, join(dir, 'b1'));
  const rec = await registry.importBundleDir(b.dir);
  t.equal(rec.digest, b.digest, 'digest = manifestDigest(envelope)');
  t.equal(rec.model, 'tiny-cnn');
  t.equal(rec.version, '1.0.0');
  t.same(rec.chips, ['bm1684x']);
  t.equal(rec.provenance.calibrationMethod, 'kl', 'provenance kept');
  const env = JSON.parse(new TextDecoder().decode(rec.envelope)) as { signed: unknown };
  t.equal(
    createHash('sha256').update(canonicalBytes(env.signed)).digest('hex'),
    b.digest,
    'the digest is the hash of the canonical signed manifest',
  );
  t.equal(
    createHash('sha256').update(rec.envelope).digest('hex'),
    rec.manifestBlob.sha256,
    'the envelope is served as the blob the assignment names',
  );
  t.equal(rec.manifestBlob.size, rec.envelope.length);
  t.ok((await readFile(await registry.blobPath(rec.manifestBlob.sha256))).equals(rec.envelope));
  t.same((await registry.blobsOf(b.digest))[0], rec.manifestBlob.sha256);
  const stored = await readFile(await registry.blobPath(b.bmodelSha256));
  t.ok(stored.equals(b.bmodel), 'blob copied byte for byte');
  t.equal(await registry.blobSize(b.bmodelSha256), b.bmodel.length);
  t.equal((await readdir(blobDir)).filter((n) => n.endsWith('.tmp')).length, 0, 'no temp left');

  const again = await registry.importBundleDir(b.dir);
  t.same(again, rec, 're-import returns the same record');
  t.equal((db.prepare('SELECT COUNT(*) AS n FROM bundles').get() as { n: number }).n, 1);

  const b2 = await makeBundle(ks, join(dir, 'b2'), { version: '1.1.0', sequence: 2 });
  await registry.importBundleDir(b2.dir);
  t.same(
    (await registry.listBundles({ model: 'tiny-cnn' })).map((x) => x.version),
    ['1.0.0', '1.1.0'],
  );
  const [model] = await registry.listModels();
  t.equal(model?.bundles, 2);
  t.equal(model?.latest?.digest, b2.digest, 'latest = highest sequence');
  t.same(await registry.listBundles({ model: 'other' }), []);
  t.same((await registry.getBundle(b2.digest))?.files.length, 2);
});

t.test('refuses bad bundles and stores nothing', async (t) => {
  const { dir, ks, db, blobDir, registry } = await setup(t);
  const counts = () =>
    ['models', 'bundles', 'blobs'].map(
      (tb) => (db.prepare(`SELECT COUNT(*) AS n FROM ${tb}`).get() as { n: number }).n,
    );

  const tampered = await makeBundle(ks, join(dir, 'tampered'));
  const evil = Buffer.from(tampered.bmodel);
  evil[0] = (evil[0] ?? 0) ^ 0xff;
  await writeFile(bundleBlobPath(tampered.dir, tampered.bmodelSha256), evil);
  await t.rejects(registry.importBundleDir(tampered.dir), { code: 'BMF_ERR_TRUST_HASH_MISMATCH' });

  const otherKeys = await createKeystore(join(dir, 'other-keys'));
  await otherKeys.init({ now: new Date(NOW) });
  const foreign = await makeBundle(otherKeys, join(dir, 'foreign'));
  await t.rejects(registry.importBundleDir(foreign.dir), { code: 'BMF_ERR_TRUST_UNKNOWN_KEY' });

  t.same(counts(), [0, 0, 0], 'no rows');
  t.same(await readdir(blobDir).catch(() => []), [], 'no blobs');

  await t.rejects(registry.importBundleDir(join(dir, 'nope')), {
    code: 'BMF_ERR_BUNDLE_FILE_MISSING',
  });
  await t.rejects(registry.requireBundle('a'.repeat(64)), { code: 'BMF_ERR_NOT_FOUND' });
  await t.rejects(registry.blobPath('a'.repeat(64)), { code: 'BMF_ERR_NOT_FOUND' });
  await t.rejects(registry.blobPath('../etc/passwd'), { code: 'BMF_ERR_NOT_FOUND' });
});

t.test('a second bundle claiming an existing version or sequence conflicts', async (t) => {
  const { dir, ks, registry } = await setup(t);
  await registry.importBundleDir((await makeBundle(ks, join(dir, 'a'))).dir);
  const clash = await makeBundle(ks, join(dir, 'b'), { version: '1.0.1', sequence: 1 });
  await t.rejects(registry.importBundleDir(clash.dir), { code: 'BMF_ERR_CONFLICT' });
});
