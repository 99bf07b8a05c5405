// The controller's content-addressed blob store: DIR/<sha256>. A blob enters only through
// `importBlob`, which stream-copies to a temp file while hashing, refuses bytes whose sha256 or
// size differ from the signed manifest (checked again here: the source may change after the
// bundle was verified), makes the copy durable and only then gives it its final name.
import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { bmfError, isBmfError } from '../../shared/errors.js';
import { fsyncDir, tempPathFor } from '../../shared/fs/atomic.js';
import { copyFileHashing } from '../../shared/fs/copy-hashing.js';
import { isHexDigest } from '../../shared/wire/ids.js';

export interface ExpectedBlob {
  readonly sha256: string;
  readonly size: number;
}

export function blobFile(blobDir: string, sha256: string): string {
  if (!isHexDigest(sha256)) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'blob', id: sha256 });
  return join(blobDir, sha256);
}

async function hasIntactSize(path: string, size: number): Promise<boolean> {
  try {
    const s = await stat(path);
    return s.isFile() && s.size === size;
  } catch {
    return false;
  }
}

/** Copy `source` into the store as `expected.sha256`; a no-op when the blob is already there. */
export async function importBlob(
  blobDir: string,
  source: string,
  expected: ExpectedBlob,
): Promise<void> {
  const target = blobFile(blobDir, expected.sha256);
  // Names are content hashes written only after a full check, so an existing file is that blob.
  if (await hasIntactSize(target, expected.size)) return;
  await mkdir(blobDir, { recursive: true });
  const tmp = tempPathFor(target);
  const hash = createHash('sha256');
  try {
    // At most one byte past the declared size: enough to prove "too long".
    const size = await copyFileHashing(source, tmp, hash, expected.size + 1);
    if (size !== expected.size) {
      throw bmfError('BMF_ERR_TRUST_SIZE_MISMATCH', {
        path: source,
        expected: expected.size,
        reason: size > expected.size ? 'file is longer' : `file has ${size} bytes`,
      });
    }
    const actual = hash.digest();
    const want = Buffer.from(expected.sha256, 'hex');
    if (!timingSafeEqual(actual, want)) {
      throw bmfError('BMF_ERR_TRUST_HASH_MISMATCH', {
        path: source,
        expected: expected.sha256,
        actual: actual.toString('hex'),
      });
    }
    await rename(tmp, target);
    await fsyncDir(blobDir);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    if (isBmfError(e)) throw e;
    throw bmfError('BMF_ERR_IO', { path: source, reason: (e as Error).message }, { cause: e });
  }
}
