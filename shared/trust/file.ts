// Streaming file verification: hash while reading and never read past the declared size + 1 byte
// (TUF "endless data" attack: a mirror that keeps sending bytes must not fill the disk or hang the
// device). Slow transfers are cut by the caller's AbortSignal (e.g. AbortSignal.timeout(ms)).
import { createHash, timingSafeEqual } from 'node:crypto';
import { bmfError, isBmfError } from '../errors.js';
import { openRegularFile } from '../fs/regular.js';

export interface ExpectedFile {
  readonly sha256: string;
  readonly size: number;
}

export interface VerifyFileOptions {
  readonly signal?: AbortSignal | undefined;
  /** Name used in error messages (defaults to the path, or "stream"). */
  readonly label?: string | undefined;
  readonly chunkBytes?: number | undefined;
}

/** One read buffer size for verification and for the benchmark's plain-hash baseline. */
export const READ_CHUNK_BYTES = 1 << 20;

function sizeError(label: string, expected: number, reason: string) {
  return bmfError('BMF_ERR_TRUST_SIZE_MISMATCH', { path: label, expected, reason });
}

function checkDigest(label: string, expected: string, actual: Buffer): void {
  const want = Buffer.from(expected, 'hex');
  if (want.length !== actual.length || !timingSafeEqual(want, actual)) {
    throw bmfError('BMF_ERR_TRUST_HASH_MISMATCH', {
      path: label,
      expected,
      actual: actual.toString('hex'),
    });
  }
}

async function verifyPath(path: string, expected: ExpectedFile, opts: VerifyFileOptions) {
  const label = opts.label ?? path;
  const hash = createHash('sha256');
  const limit = expected.size + 1; // one byte more than declared is enough to prove "too long"
  const buf = Buffer.allocUnsafe(Math.min(opts.chunkBytes ?? READ_CHUNK_BYTES, limit));
  let total = 0;
  let fd;
  try {
    fd = await openRegularFile(path, label);
  } catch (e) {
    if (isBmfError(e)) throw e;
    throw bmfError('BMF_ERR_BUNDLE_FILE_MISSING', { path: label }, { cause: e });
  }
  try {
    while (total < limit) {
      opts.signal?.throwIfAborted();
      const want = Math.min(buf.length, limit - total);
      const { bytesRead } = await fd.read(buf, 0, want, total);
      if (bytesRead === 0) break;
      if (total + bytesRead <= expected.size) hash.update(buf.subarray(0, bytesRead));
      total += bytesRead;
    }
  } finally {
    await fd.close();
  }
  if (total > expected.size) throw sizeError(label, expected.size, 'file is longer');
  if (total < expected.size) throw sizeError(label, expected.size, `file has ${total} bytes`);
  checkDigest(label, expected.sha256, hash.digest());
}

async function verifyStream(
  stream: AsyncIterable<Uint8Array>,
  expected: ExpectedFile,
  opts: VerifyFileOptions,
) {
  const label = opts.label ?? 'stream';
  const hash = createHash('sha256');
  let total = 0;
  // Leaving the loop early calls the iterator's return(), which destroys a Node stream: reading
  // stops at the first chunk that crosses the declared size.
  for await (const chunk of stream) {
    opts.signal?.throwIfAborted();
    if (total + chunk.length > expected.size) {
      throw sizeError(label, expected.size, 'more data than declared');
    }
    hash.update(chunk);
    total += chunk.length;
  }
  if (total < expected.size) throw sizeError(label, expected.size, `stream ended at ${total}`);
  checkDigest(label, expected.sha256, hash.digest());
}

/** Check a file (path) or byte stream against its declared sha256 and size. */
export async function verifyFile(
  source: string | AsyncIterable<Uint8Array>,
  expected: ExpectedFile,
  opts: VerifyFileOptions = {},
): Promise<void> {
  if (typeof source === 'string') await verifyPath(source, expected, opts);
  else await verifyStream(source, expected, opts);
}
