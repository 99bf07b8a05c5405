// Replicas share one blob directory (docs/scaling.md, "Bundle blobs"): several writers importing
// the same blob at once each write a temp file of their own and rename it over the final name,
// so the blob is always whole, whoever renames last, and no temp file is left behind.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blobFile, importBlob } from '../../../controller/registry/blob-store.js';

const SIZE = 3 * 1024 * 1024 + 17;
const WRITERS = 6;

t.test('writers importing one blob into a shared directory at once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bmf-shared-blobs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bytes = randomBytes(SIZE);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  // Each writer has its own copy of the source, as replicas on different machines would.
  const sources = await Promise.all(
    Array.from({ length: WRITERS }, async (_, i) => {
      const p = join(dir, `source-${i}`);
      await writeFile(p, bytes);
      return p;
    }),
  );
  const blobDir = join(dir, 'blobs');
  await Promise.all(sources.map((s) => importBlob(blobDir, s, { sha256, size: SIZE })));
  const stored = await readFile(blobFile(blobDir, sha256));
  t.equal(stored.length, SIZE);
  t.equal(createHash('sha256').update(stored).digest('hex'), sha256, 'the blob is whole');
  t.same(await readdir(blobDir), [sha256], 'no temp file left');

  // A blob whose size is wrong on disk is written again, by every writer at once.
  await writeFile(blobFile(blobDir, sha256), bytes.subarray(0, 10)); // damaged: re-imported
  await Promise.all(sources.map((s) => importBlob(blobDir, s, { sha256, size: SIZE })));
  const again = await readFile(blobFile(blobDir, sha256));
  t.equal(createHash('sha256').update(again).digest('hex'), sha256, 'repaired whole');
  t.same(await readdir(blobDir), [sha256], 'still no temp file');
});

t.test('a writer with the wrong bytes leaves the shared blob alone', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bmf-shared-blobs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bytes = randomBytes(64 * 1024);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const good = join(dir, 'good');
  const bad = join(dir, 'bad');
  await writeFile(good, bytes);
  await writeFile(bad, Buffer.concat([bytes.subarray(1), Buffer.from([0])]));
  const blobDir = join(dir, 'blobs');
  const results = await Promise.allSettled([
    importBlob(blobDir, good, { sha256, size: bytes.length }),
    importBlob(blobDir, bad, { sha256, size: bytes.length }),
  ]);
  t.equal(results[0]!.status, 'fulfilled');
  t.match(results[1], { status: 'rejected', reason: { code: 'BMF_ERR_TRUST_HASH_MISMATCH' } });
  const stored = await readFile(blobFile(blobDir, sha256));
  t.equal(createHash('sha256').update(stored).digest('hex'), sha256, 'the good bytes stand');
  t.same(await readdir(blobDir), [sha256], 'the bad temp file removed');
});
