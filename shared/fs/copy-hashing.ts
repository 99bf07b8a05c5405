// Copying one open file into another while hashing what passes: the one loop the bundle builder
// (shared/bundle/build.ts) and the registry's blob import (controller/registry/blob-store.ts)
// stream their blobs through.
import type { Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { READ_CHUNK_BYTES } from '../trust/file.js';

/**
 * Copies `src` from its start into `dst`, feeding every byte to `hash`, then syncs `dst`. Stops
 * at the end of `src` or after `maxBytes`: a caller that expects N bytes passes N + 1, enough to
 * prove "too long" without following an endless file. Returns the bytes copied.
 */
export async function copyHashing(
  src: FileHandle,
  dst: FileHandle,
  hash: Hash,
  maxBytes = Infinity,
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
