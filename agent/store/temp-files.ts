// Temp files of interrupted atomic writes (shared/fs/atomic.ts names them `.<target>.<hex>.tmp`)
// stay behind after kill -9. The agent removes them at start, before anything writes again.
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const TEMP = /^\..+\.[0-9a-f]{12}\.tmp$/;

/** Deletes orphaned atomic-write temp files in `dirs` (not recursive); returns their paths. */
export async function removeOrphanedTempFiles(dirs: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const dir of dirs) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => TEMP.test(n))) {
      const path = join(dir, name);
      await unlink(path).then(
        () => removed.push(path),
        () => undefined,
      );
    }
  }
  return removed;
}
