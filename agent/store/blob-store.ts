// Content-addressed blob store: a blob's file name is the sha256 of its bytes, so a name never
// points at different content and "already have it" is a file check. Whole blobs are written with
// shared/fs/atomic.ts (temp + fsync + rename + directory fsync); chunked transfers go through
// partial.ts and end in the same rename.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { bmfError, isBmfError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import { isDigest, parseDigest, type Digest } from '../../shared/ids.js';
import { sha256InSlices } from '../slices.js';

/** The name a blob is stored under: the sha256 of its bytes, as a Digest. */
export function sha256Hex(bytes: Uint8Array): Digest {
  return parseDigest(createHash('sha256').update(bytes).digest('hex'));
}

/** A name given to the store at run time (a path is built from it): refused unless a digest. */
export function checkDigest(digest: string): Digest {
  if (!isDigest(digest)) {
    throw bmfError('BMF_ERR_AGENT_STORE', { reason: `"${digest}" is not a sha256 hex digest` });
  }
  return digest;
}

export interface BlobStore {
  readonly dir: string;
  pathOf(digest: Digest): string;
  has(digest: Digest): Promise<boolean>;
  /**
   * Reads a blob and checks its hash again (a disk can rot; a blob is trusted only by hash).
   * With `size` the file's length is checked first and a different one refused before any byte
   * is buffered (BMF_ERR_TRUST_SIZE_MISMATCH).
   */
  read(digest: Digest, size?: number): Promise<Uint8Array>;
  /** Stores bytes under their sha256 and returns the digest; `expected` must match when given. */
  put(bytes: Uint8Array, expected?: Digest): Promise<Digest>;
  list(): Promise<Digest[]>;
  remove(digest: Digest): Promise<void>;
}

export async function createBlobStore(dir: string): Promise<BlobStore> {
  await mkdir(dir, { recursive: true });
  const pathOf = (digest: Digest): string => join(dir, checkDigest(digest));
  return {
    dir,
    pathOf,
    async has(digest) {
      try {
        return (await stat(pathOf(digest))).isFile();
      } catch {
        return false;
      }
    },
    async read(digest, size) {
      let bytes: Uint8Array;
      try {
        if (size !== undefined) {
          const actual = (await stat(pathOf(digest))).size;
          if (actual !== size) {
            throw bmfError('BMF_ERR_TRUST_SIZE_MISMATCH', {
              path: pathOf(digest),
              expected: size,
              reason: `the stored blob has ${actual}`,
            });
          }
        }
        bytes = await readFile(pathOf(digest));
      } catch (e) {
        if (isBmfError(e)) throw e;
        throw bmfError('BMF_ERR_AGENT_STORE', {
          reason: `blob ${digest}: ${(e as Error).message}`,
        });
      }
      // In slices: a model's blob is read back during a hot-swap, beside the model that serves.
      const actual = await sha256InSlices(bytes);
      if (actual !== digest) {
        throw bmfError('BMF_ERR_TRUST_HASH_MISMATCH', {
          path: pathOf(digest),
          expected: digest,
          actual,
        });
      }
      return bytes;
    },
    async put(bytes, expected) {
      const digest = sha256Hex(bytes);
      if (expected !== undefined && expected !== digest) {
        throw bmfError('BMF_ERR_TRUST_HASH_MISMATCH', { path: expected, expected, actual: digest });
      }
      await writeFileAtomic(pathOf(digest), bytes);
      return digest;
    },
    async list() {
      return (await readdir(dir)).filter((n) => isDigest(n)).sort();
    },
    async remove(digest) {
      await unlink(pathOf(digest)).catch(() => undefined);
    },
  };
}
