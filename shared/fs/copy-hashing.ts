// Copying a file into a new temp file while hashing what passes: the one loop the bundle builder
// (shared/bundle/build.ts) and the registry's blob import (controller/registry/blob-store.ts)
// stream their blobs through.
import type { Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { READ_CHUNK_BYTES } from '../trust/file.js';
import { openRegularFile } from './regular.js';

/**
 * Copies the regular file `source` into `tmp` (created, never replaced), feeding every byte to
 * `hash`, then syncs `tmp`. Stops at the end of `source` or after `maxBytes`: a caller that
 * expects N bytes passes N + 1, enough to prove "too long" without following an endless file.
 * A FIFO or device is BMF_ERR_BUNDLE_NOT_REGULAR before any read (a FIFO would block the open
 * for good, /dev/zero would fill the disk). Both files are closed on every path. Returns the
 * bytes copied.
 */
export async function copyFileHashing(
  source: string,
  tmp: string,
  hash: Hash,
  maxBytes = Infinity,
): Promise<number> {
  const src = await openRegularFile(source);
  let dst: FileHandle | undefined;
  try {
    dst = await open(tmp, 'wx', 0o644);
    return await copyHashing(src, dst, hash, maxBytes);
  } finally {
    await dst?.close().catch(() => undefined);
    await src.close().catch(() => undefined);
  }
}

async function copyHashing(
  src: FileHandle,
  dst: FileHandle,
  hash: Hash,
  maxBytes: number,
): Promise<number> {
  const buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  let size = 0;
  while (size < maxBytes) {
    const want = Math.min(buf.length, maxBytes - size);
    const { bytesRead } = await src.read(buf, 0, want, size);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    await dst.write(buf, 0, bytesRead);
    size += bytesRead;
  }
  await dst.sync();
  return size;
}
