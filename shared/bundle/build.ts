// `bundle build`: copy the files into DIR/blobs/<sha256> (hashing while copying, each blob made
// durable before it gets its final name) and write DIR/manifest.json from a partial manifest plus
// the facts build owns (files, times, schema version).
import { createHash } from 'node:crypto';
import { mkdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { bmfError, isBmfError } from '../errors.js';
import { fsyncDir, tempPathFor, writeFileAtomic } from '../fs/atomic.js';
import { copyFileHashing } from '../fs/copy-hashing.js';
import {
  BUNDLE_SCHEMA_VERSION,
  parseBundleManifest,
  type BundleManifest,
  type FileRole,
} from './manifest.js';
import { BLOBS_DIR, blobPath, MANIFEST_FILE, SIGNED_MANIFEST_FILE } from './layout.js';

export interface BuildInput {
  readonly role: FileRole;
  readonly source: string;
  /** Path recorded in the manifest; defaults to the source's base name. */
  readonly path?: string;
}

export interface BuildBundleOptions {
  readonly files: readonly BuildInput[];
  /** Everything except `files`, `created`, `type`, `schemaVersion` (filled here). */
  readonly partial: unknown;
  readonly outDir: string;
  readonly now: Date;
  readonly expiresDays?: number;
}

/** Copy `source` into the blob directory under its sha256; returns the digest and size. */
export async function addBlob(
  source: string,
  outDir: string,
): Promise<{ sha256: string; size: number }> {
  const blobs = join(outDir, BLOBS_DIR);
  await mkdir(blobs, { recursive: true });
  const tmp = tempPathFor(join(blobs, 'incoming'));
  const hash = createHash('sha256');
  try {
    const size = await copyFileHashing(source, tmp, hash);
    const sha256 = hash.digest('hex');
    await rename(tmp, blobPath(outDir, sha256));
    await fsyncDir(dirname(blobPath(outDir, sha256)));
    return { sha256, size };
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    if (isBmfError(e)) throw e;
    throw bmfError('BMF_ERR_IO', { path: source, reason: (e as Error).message }, { cause: e });
  }
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export async function buildBundle(opts: BuildBundleOptions): Promise<BundleManifest> {
  const partial = opts.partial;
  if (typeof partial !== 'object' || partial === null || Array.isArray(partial)) {
    throw bmfError('BMF_ERR_BUNDLE_MANIFEST', { field: '(document)', reason: 'not an object' });
  }
  if ('files' in partial) {
    throw bmfError('BMF_ERR_BUNDLE_MANIFEST', { field: 'files', reason: 'set by bundle build' });
  }
  await mkdir(opts.outDir, { recursive: true });
  const files = [];
  for (const input of opts.files) {
    const { sha256, size } = await addBlob(input.source, opts.outDir);
    files.push({ role: input.role, path: input.path ?? basename(input.source), sha256, size });
  }
  const given = partial as Record<string, unknown>;
  const labels = files.find((f) => f.role === 'labels');
  const outputs = (given.outputs ?? { topK: 1 }) as Record<string, unknown>;
  const created = isoSeconds(opts.now.getTime());
  const manifest = parseBundleManifest({
    type: 'bundle',
    schemaVersion: BUNDLE_SCHEMA_VERSION,
    inputs: [],
    metadata: {},
    created,
    expires: isoSeconds(opts.now.getTime() + (opts.expiresDays ?? 365) * 86_400_000),
    ...given,
    outputs: labels && !outputs.labels ? { ...outputs, labels: { file: labels.path } } : outputs,
    files,
  });
  // A stale signature from an earlier build of this directory must not survive a rebuild.
  await unlink(join(opts.outDir, SIGNED_MANIFEST_FILE)).catch(() => undefined);
  await writeFileAtomic(join(opts.outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
