// The chunk table of a blob (size, chunk size, sha256 of every chunk), computed once per blob by
// reading it in chunk-sized positional reads, and the positional read of one chunk.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { bmfError } from '../../shared/errors.js';
import type { Digest } from '../../shared/ids.js';

export interface ChunkTable {
  readonly digest: Digest;
  readonly size: number;
  readonly chunkSize: number;
  readonly chunkCount: number;
  readonly chunkSha256: readonly Uint8Array[];
}

export function chunkCountOf(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

export async function computeChunkTable(
  path: string,
  digest: Digest,
  size: number,
  chunkSize: number,
): Promise<ChunkTable> {
  const count = chunkCountOf(size, chunkSize);
  const hashes: Uint8Array[] = [];
  const fd = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(chunkSize, Math.max(size, 1)));
    for (let i = 0; i < count; i++) {
      const want = Math.min(chunkSize, size - i * chunkSize);
      const { bytesRead } = await fd.read(buf, 0, want, i * chunkSize);
      if (bytesRead !== want) {
        throw bmfError('BMF_ERR_IO', { path, reason: `blob shorter than its recorded ${size} B` });
      }
      hashes.push(createHash('sha256').update(buf.subarray(0, want)).digest());
    }
  } finally {
    await fd.close();
  }
  return { digest, size, chunkSize, chunkCount: count, chunkSha256: hashes };
}

export async function readChunk(path: string, table: ChunkTable, index: number): Promise<Buffer> {
  const start = index * table.chunkSize;
  const want = Math.min(table.chunkSize, table.size - start);
  const buf = Buffer.allocUnsafe(want);
  const fd = await open(path, 'r');
  try {
    const { bytesRead } = await fd.read(buf, 0, want, start);
    if (bytesRead !== want) {
      throw bmfError('BMF_ERR_IO', { path, reason: `short read of chunk ${index}` });
    }
  } finally {
    await fd.close();
  }
  return buf;
}
