// On-disk bundle layout:
//   DIR/manifest.json          the unsigned manifest (output of `bundle build`)
//   DIR/manifest.signed.json   the signed envelope { signed: manifest, signatures } (`bundle sign`)
//   DIR/blobs/<sha256>         every file, content-addressed by its sha256
import { join } from 'node:path';
import { bmfError, isBmfError } from '../errors.js';
import { openRegularFile } from '../fs/regular.js';

export const MANIFEST_FILE = 'manifest.json';
export const SIGNED_MANIFEST_FILE = 'manifest.signed.json';
export const BLOBS_DIR = 'blobs';
/** Manifests are small; anything bigger is refused before it is parsed. */
export const MAX_MANIFEST_BYTES = 4 << 20;

export const blobPath = (dir: string, sha256: string): string => join(dir, BLOBS_DIR, sha256);

/** Read a JSON document of at most `limit` bytes (reading stops there) and parse it. */
export async function readJsonLimited(path: string, limit = MAX_MANIFEST_BYTES): Promise<unknown> {
  let fd;
  try {
    fd = await openRegularFile(path);
  } catch (e) {
    if (isBmfError(e)) throw e;
    throw bmfError('BMF_ERR_BUNDLE_FILE_MISSING', { path }, { cause: e });
  }
  let text: string;
  try {
    const buf = Buffer.alloc(limit + 1);
    let total = 0;
    while (total <= limit) {
      const { bytesRead } = await fd.read(buf, total, limit + 1 - total, total);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    if (total > limit) {
      throw bmfError('BMF_ERR_BUNDLE_MANIFEST', {
        field: '(document)',
        reason: `${path} is larger than ${limit} bytes`,
      });
    }
    text = buf.subarray(0, total).toString('utf8');
  } finally {
    await fd.close();
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw bmfError('BMF_ERR_BUNDLE_MANIFEST', {
      field: '(document)',
      reason: `${path} is not JSON: ${(e as Error).message}`,
    });
  }
}
