// A blob arriving in chunks. The data goes into `<digest>.part` at each chunk's offset; which
// chunks are on disk is a bitmap in `<digest>.bitmap`, rewritten atomically only AFTER the chunk's
// bytes are fsynced. So after kill -9 the bitmap may miss a chunk that was written (it is fetched
// again) but never claims one that was not. Each chunk is checked against the chunk table's
// sha256 before it is written; the finished file is hashed whole and renamed into the store.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { bmfError } from '../../shared/errors.js';
import { fsyncDir, writeFileAtomic } from '../../shared/fs/atomic.js';
import type { BlobStore } from './blob-store.js';
import { checkDigest, sha256Hex } from './blob-store.js';
import type { Digest } from '../../shared/ids.js';

export interface ChunkTable {
  readonly digest: Digest;
  readonly size: number;
  readonly chunkSize: number;
  /** sha256 hex of every chunk, in order. */
  readonly chunkHashes: readonly string[];
}

export interface PartialBlob {
  readonly table: ChunkTable;
  has(index: number): boolean;
  missing(): number[];
  /** Verifies and writes one chunk; a chunk already present is skipped (broadcast duplicates). */
  writeChunk(index: number, bytes: Uint8Array): Promise<'written' | 'duplicate'>;
  /** When every chunk is present: hash the whole file and move it into the blob store. */
  complete(): Promise<string>;
  close(): Promise<void>;
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

function checkTable(t: ChunkTable): void {
  checkDigest(t.digest);
  const n = chunkCount(t.size, t.chunkSize);
  if (
    !Number.isSafeInteger(t.size) ||
    t.size < 0 ||
    !Number.isSafeInteger(t.chunkSize) ||
    t.chunkSize <= 0 ||
    t.chunkHashes.length !== n
  ) {
    throw bmfError('BMF_ERR_AGENT_FETCH', {
      digest: t.digest,
      reason: `chunk table of ${t.chunkHashes.length} hashes does not fit ${t.size} bytes in chunks of ${t.chunkSize}`,
    });
  }
}

export async function openPartial(
  store: BlobStore,
  partialDir: string,
  table: ChunkTable,
): Promise<PartialBlob> {
  checkTable(table);
  await mkdir(partialDir, { recursive: true });
  const dataPath = join(partialDir, `${table.digest}.part`);
  const bitmapPath = join(partialDir, `${table.digest}.bitmap`);
  const n = chunkCount(table.size, table.chunkSize);
  const bitmap = new Uint8Array(Math.ceil(n / 8));
  const saved = await readFile(bitmapPath).catch(() => undefined);
  const dataSize = await stat(dataPath).then(
    (s) => s.size,
    () => -1,
  );
  // A bitmap without its data file (or with a different length) is not trusted: start over.
  if (saved && saved.length === bitmap.length && dataSize === table.size) bitmap.set(saved);
  const fd = await open(dataPath, dataSize === table.size ? 'r+' : 'w+');
  if (dataSize !== table.size) {
    await fd.truncate(table.size);
    await fd.sync();
  }
  const has = (i: number): boolean => ((bitmap[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
  let chain: Promise<unknown> = Promise.resolve();

  async function write(index: number, bytes: Uint8Array): Promise<'written' | 'duplicate'> {
    if (!Number.isInteger(index) || index < 0 || index >= n) {
      throw bmfError('BMF_ERR_AGENT_FETCH', {
        digest: table.digest,
        reason: `chunk index ${index} outside 0..${n - 1}`,
      });
    }
    if (has(index)) return 'duplicate';
    const expectedLength = Math.min(table.chunkSize, table.size - index * table.chunkSize);
    if (bytes.length !== expectedLength) {
      throw bmfError('BMF_ERR_TRUST_SIZE_MISMATCH', {
        path: `${table.digest}#${index}`,
        expected: expectedLength,
        reason: `chunk has ${bytes.length}`,
      });
    }
    if (sha256Hex(bytes) !== table.chunkHashes[index]) {
      throw bmfError('BMF_ERR_AGENT_CHUNK_HASH', { index, digest: table.digest });
    }
    await fd.write(bytes, 0, bytes.length, index * table.chunkSize);
    await fd.sync();
    bitmap[index >> 3] = (bitmap[index >> 3] ?? 0) | (1 << (index & 7));
    await writeFileAtomic(bitmapPath, bitmap);
    return 'written';
  }

  return {
    table,
    has,
    missing: () => Array.from({ length: n }, (_, i) => i).filter((i) => !has(i)),
    writeChunk(index, bytes) {
      // Chunks of one blob are written one at a time so the bitmap file has one writer.
      const run = chain.then(() => write(index, bytes));
      chain = run.catch(() => undefined);
      return run;
    },
    async complete() {
      await chain;
      const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !has(i));
      if (missing.length > 0) {
        throw bmfError('BMF_ERR_AGENT_FETCH', {
          digest: table.digest,
          reason: `${missing.length} chunks missing`,
        });
      }
      await fd.close().catch(() => undefined);
      // Hashed as a stream: a blob is never held in memory whole to check it.
      const actual = await sha256OfFile(dataPath);
      if (actual !== table.digest) {
        await unlink(dataPath).catch(() => undefined);
        await unlink(bitmapPath).catch(() => undefined);
        throw bmfError('BMF_ERR_TRUST_HASH_MISMATCH', {
          path: dataPath,
          expected: table.digest,
          actual,
        });
      }
      await rename(dataPath, store.pathOf(table.digest));
      await fsyncDir(store.dir);
      await unlink(bitmapPath).catch(() => undefined);
      return table.digest;
    },
    async close() {
      await chain;
      await fd.close().catch(() => undefined);
    },
  };
}
