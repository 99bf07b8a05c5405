// A bundle directory holds regular files only: a FIFO in place of a blob or of the signed manifest
// is refused with a typed error before it is opened for a blocking read (it used to hang
// `bundle verify` and the controller's bundle import for good). `bundle build` takes regular
// files only as well (a FIFO hung it, /dev/zero would have filled the disk, a directory was an
// I/O error).
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildBundle } from '../../../shared/bundle/build.js';
import { verifyBundleDir } from '../../../shared/bundle/dir.js';
import { BLOBS_DIR, blobPath, SIGNED_MANIFEST_FILE } from '../../../shared/bundle/layout.js';
import { makeBundle, makeKeystore, NOW } from '../../controller/registry/make-bundle.js';

/** Settles with the promise's outcome, or 'hung' when it has not settled in `ms`. */
async function settled(p: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise((r) => (timer = setTimeout(() => r('hung'), ms)));
  try {
    return await Promise.race([
      p.then(
        () => 'ok',
        (e: unknown) => e,
      ),
      hung,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

for (const where of ['blob', 'signed manifest'] as const) {
  t.test(`a FIFO as the ${where} is refused, not read`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'bmf-fifo-'));
    const ks = await makeKeystore(dir);
    const b = await makeBundle(ks, join(dir, 'b'));
    const path =
      where === 'blob' ? blobPath(b.dir, b.bmodelSha256) : join(b.dir, SIGNED_MANIFEST_FILE);
    await rm(path);
    execFileSync('mkfifo', [path]);
    // Generous: the refusal is immediate; the bound only keeps a regression from hanging CI.
    const outcome = await settled(
      verifyBundleDir(b.dir, { root: await ks.readRoot(), now: new Date(NOW) }),
      30_000,
    );
    t.not(outcome, 'hung', 'verification returns');
    t.match(outcome, { code: 'BMF_ERR_BUNDLE_NOT_REGULAR', details: { kind: 'FIFO' } });
  });
}

for (const kind of ['FIFO', 'directory'] as const) {
  t.test(`bundle build refuses a ${kind} as a file to pack`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'bmf-build-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const source = join(dir, 'model.bmodel');
    if (kind === 'FIFO') execFileSync('mkfifo', [source]);
    else await mkdir(source);
    const out = join(dir, 'bundle');
    const outcome = await settled(
      buildBundle({
        files: [{ role: 'bmodel', source }],
        partial: {},
        outDir: out,
        now: new Date(NOW),
      }),
      30_000,
    );
    t.not(outcome, 'hung', 'build returns');
    t.match(outcome, { code: 'BMF_ERR_BUNDLE_NOT_REGULAR', details: { kind, path: source } });
    t.same(await readdir(join(out, BLOBS_DIR)), [], 'no temp file left behind');
  });
}
