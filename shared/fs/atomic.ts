// Crash-safe file writes: temp file in the same directory, fsync, rename over the target, fsync
// the directory. After a crash at any point the target holds either the old or the new bytes.
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { bmfError } from '../errors.js';

export async function fsyncDir(dir: string): Promise<void> {
  const fd = await open(dir, 'r');
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
}

export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
}

export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempPathFor(target);
  try {
    const fd = await open(tmp, 'wx', 0o644);
    try {
      await fd.writeFile(data);
      await fd.sync();
    } finally {
      await fd.close();
    }
    await rename(tmp, target);
    await fsyncDir(dirname(target));
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw bmfError('BMF_ERR_IO', { path: target, reason: (e as Error).message }, { cause: e });
  }
}
