// `npm run bench -- bundle`: verifying a 256 MiB bundle (signature checks + streaming sha256 of
// every blob, reading stopped at the declared sizes) against plain node:crypto sha256 over the same
// blob files, read the same way (same chunk size), page cache warm for both. Target: >= 0.8x.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBundle } from '../shared/bundle/build.js';
import { signBundleDir, verifyBundleDir } from '../shared/bundle/dir.js';
import { blobPath } from '../shared/bundle/layout.js';
import type { BundleManifest } from '../shared/bundle/manifest.js';
import { READ_CHUNK_BYTES } from '../shared/trust/file.js';
import { createKeystore } from '../shared/trust/keystore.js';

const BMODEL_BYTES = 256 * 1024 * 1024;
const ROUNDS = 6;

async function writeBigFile(path: string, bytes: number): Promise<void> {
  const block = randomBytes(4 * 1024 * 1024);
  const fd = await open(path, 'w');
  try {
    for (let done = 0; done < bytes; done += block.length) {
      await fd.write(block, 0, Math.min(block.length, bytes - done));
    }
  } finally {
    await fd.close();
  }
}

/** The baseline: sha256 of each blob through the same read loop, no checks, no signatures. */
async function plainSha256(paths: readonly string[]): Promise<void> {
  const buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  for (const path of paths) {
    const hash = createHash('sha256');
    const fd = await open(path, 'r');
    try {
      let pos = 0;
      while (true) {
        const { bytesRead } = await fd.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
    } finally {
      await fd.close();
    }
    hash.digest();
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bmf-bench-bundle-'));
  try {
    const out = join(dir, 'bundle');
    await writeFile(join(dir, 'labels.txt'), 'cat\ndog\n'.repeat(500));
    await writeFile(join(dir, 'golden.bin'), randomBytes(256 * 1024));
    await writeBigFile(join(dir, 'model.bmodel'), BMODEL_BYTES);
    const keys = createKeystore(join(dir, 'keys'));
    const now = new Date();
    await keys.init({ now });
    const manifest: BundleManifest = await buildBundle({
      files: [
        { role: 'bmodel', source: join(dir, 'model.bmodel') },
        { role: 'golden', source: join(dir, 'golden.bin') },
        { role: 'labels', source: join(dir, 'labels.txt') },
      ],
      partial: {
        name: 'bench',
        version: '1.0.0',
        sequence: 1,
        chips: ['bm1684x'],
        precision: 'int8',
        runtime: 'bmrt',
        outputs: { topK: 5 },
        provenance: {
          sourceModelSha256: '0'.repeat(64),
          toolchain: 'bench',
          toolchainVersion: '0',
        },
      },
      outDir: out,
      now,
    });
    await rm(join(dir, 'model.bmodel'));
    await signBundleDir(out, await keys.signers('bundle'));
    const root = await keys.readRoot();
    const paths = manifest.files.map((f) => blobPath(out, f.sha256));
    const total = manifest.files.reduce((n, f) => n + f.size, 0);
    const verify = () => verifyBundleDir(out, { root, chip: 'bm1684x', installedSequence: 0, now });

    await plainSha256(paths); // warm the page cache for both contenders
    const plain: number[] = [];
    const verified: number[] = [];
    // Alternate which goes first so neither always runs right after the other's cache effects.
    for (let i = 0; i < ROUNDS; i++) {
      if (i % 2 === 0) plain.push(await timed(() => plainSha256(paths)));
      verified.push(await timed(verify));
      if (i % 2 === 1) plain.push(await timed(() => plainSha256(paths)));
    }
    const mbps = (s: number) => total / 1e6 / s;
    const plainMBps = mbps(median(plain));
    const verifyMBps = mbps(median(verified));
    const ratio = verifyMBps / plainMBps;
    console.log(
      `bundle: ${(total / 1048576).toFixed(1)} MiB in ${manifest.files.length} files, ${ROUNDS} rounds, median`,
    );
    console.log(`  plain sha256        ${plainMBps.toFixed(0)} MB/s`);
    console.log(
      `  bundle verify       ${verifyMBps.toFixed(0)} MB/s (signatures + sizes + sha256)`,
    );
    console.log(
      `  ratio verify/plain  ${ratio.toFixed(3)} (target >= 0.8) ${ratio >= 0.8 ? 'PASS' : 'BELOW TARGET'}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
