// Opening files a directory claims to hold (bundle directories, blobs to import) for reading:
// only regular files. Opened non-blocking, so a FIFO cannot hang the open itself, and checked on
// the open descriptor, so nothing can be swapped in between the check and the read.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { bmfError } from '../errors.js';

function kindOf(s: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}): string {
  if (s.isDirectory()) return 'directory';
  if (s.isFIFO()) return 'FIFO';
  if (s.isSocket()) return 'socket';
  if (s.isCharacterDevice()) return 'character device';
  if (s.isBlockDevice()) return 'block device';
  return 'not a regular file';
}

/**
 * Opens `path` for reading when it is a regular file (symlinks are followed to one);
 * BMF_ERR_BUNDLE_NOT_REGULAR otherwise. Errors of the open itself are thrown as they are.
 */
export async function openRegularFile(path: string, label = path): Promise<FileHandle> {
  const fd = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const s = await fd.stat();
    if (!s.isFile()) throw bmfError('BMF_ERR_BUNDLE_NOT_REGULAR', { path: label, kind: kindOf(s) });
    return fd;
  } catch (e) {
    await fd.close().catch(() => undefined);
    throw e;
  }
}
