// Test helper: a real keystore and real signed bundles in a temp dir (no mocks).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBundle } from '../../../shared/bundle/build.js';
import { signBundleDir } from '../../../shared/bundle/dir.js';
import { createKeystore, type Keystore } from '../../../shared/trust/keystore.js';
import { parseDigest, type Digest } from '../../../shared/ids.js';

export const FIXTURES = new URL('../../fixtures/controller/c1/', import.meta.url).pathname;
export const NOW = Date.parse('2025-06-01T00:00:00Z');

export async function makeKeystore(dir: string): Promise<Keystore> {
  const ks = createKeystore(join(dir, 'keys'));
  await ks.init({ now: new Date(NOW) });
  return ks;
}

export interface BuiltBundle {
  readonly dir: string;
  readonly digest: Digest;
  readonly bmodel: Buffer;
  readonly bmodelSha256: Digest;
}

/** Build and sign a bundle with a `bmodelBytes`-byte BMODEL file of random content. */
export async function makeBundle(
  ks: Keystore,
  dir: string,
  over: { version?: string; sequence?: number; chips?: string[]; bmodelBytes?: number } = {},
): Promise<BuiltBundle> {
  const partial = JSON.parse(
    await readFile(join(FIXTURES, 'partial-manifest.json'), 'utf8'),
  ) as Record<string, unknown>;
  if (over.version) partial.version = over.version;
  if (over.sequence) partial.sequence = over.sequence;
  if (over.chips) partial.chips = over.chips;
  const src = join(dir, 'src');
  await mkdir(src, { recursive: true });
  const bmodel = randomBytes(over.bmodelBytes ?? 100_000);
  const labels = Buffer.from('cat\ndog\n');
  await writeFile(join(src, 'model.bmodel'), bmodel);
  await writeFile(join(src, 'labels.txt'), labels);
  const out = join(dir, 'bundle');
  const manifest = await buildBundle({
    files: [
      { role: 'bmodel', source: join(src, 'model.bmodel') },
      { role: 'labels', source: join(src, 'labels.txt') },
    ],
    partial,
    outDir: out,
    now: new Date(NOW),
  });
  const { digest } = await signBundleDir(out, await ks.signers('bundle'));
  const sha = parseDigest(manifest.files.find((f) => f.role === 'bmodel')?.sha256 ?? '');
  return { dir: out, digest: parseDigest(digest), bmodel, bmodelSha256: sha };
}
