// The board package's native-code manifest: every shared object and .node addon in the package
// with the machine it was built for and the glibc/libstdc++ symbol versions it needs. Pure
// decisions (which files count as native, does the package fit the board) live here; the walk
// over the file tree is `scanNativeFiles`, the only function that touches the disk.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { bmfError } from '../shared/errors.js';
import { compareVersions, EM_AARCH64, highestVersion, machineName, readBinaryInfo } from './elf.js';
import type { BinaryFormat } from './elf.js';

/** SoC boards run Ubuntu 20.04 class aarch64 Linux, glibc <= 2.31 (docs/vendor.md section 3). */
export const BOARD_GLIBC_MAX = '2.31';
/** Ubuntu 20.04's libstdc++6 comes from GCC 10, whose newest symbol version is GLIBCXX_3.4.28. */
export const BOARD_GLIBCXX_MAX = '3.4.28';

export interface NativeFile {
  /** Path relative to the package root, with forward slashes. */
  readonly path: string;
  readonly format: BinaryFormat;
  readonly machine: string;
  readonly glibc?: string;
  readonly glibcxx?: string;
}

export interface NativeManifest {
  readonly expectedMachine: string;
  readonly files: readonly NativeFile[];
  readonly highestGlibc?: { readonly version: string; readonly path: string };
  readonly highestGlibcxx?: { readonly version: string; readonly path: string };
  readonly warnings: readonly string[];
}

/** .node addons, shared objects (libfoo.so, libfoo.so.1.2) and the node executable itself. */
export function isNativeCandidate(relPath: string): boolean {
  const name = relPath.split('/').pop() ?? '';
  return name.endsWith('.node') || /\.so(\.\d+)*$/.test(name) || relPath === 'node/bin/node';
}

export function describeNative(relPath: string, bytes: Uint8Array): NativeFile {
  const info = readBinaryInfo(bytes, relPath);
  const versions = info.neededVersions ?? [];
  const glibc = highestVersion(versions, 'GLIBC');
  const glibcxx = highestVersion(versions, 'GLIBCXX');
  return {
    path: relPath,
    format: info.format,
    machine: info.machine === undefined ? info.format : machineName(info.machine),
    ...(glibc ? { glibc } : {}),
    ...(glibcxx ? { glibcxx } : {}),
  };
}

const parse = (v: string): number[] => v.split('.').map(Number);

function highest(
  files: readonly NativeFile[],
  pick: (f: NativeFile) => string | undefined,
): { version: string; path: string } | undefined {
  let best: { version: string; path: string } | undefined;
  for (const f of files) {
    const v = pick(f);
    if (v && (!best || compareVersions(parse(v), parse(best.version)) > 0)) {
      best = { version: v, path: f.path };
    }
  }
  return best;
}

/** Summarises the files; warns (does not fail) when a symbol version is newer than the board's. */
export function buildManifest(files: readonly NativeFile[]): NativeManifest {
  const highestGlibc = highest(files, (f) => f.glibc);
  const highestGlibcxx = highest(files, (f) => f.glibcxx);
  const warnings: string[] = [];
  if (highestGlibc && compareVersions(parse(highestGlibc.version), parse(BOARD_GLIBC_MAX)) > 0) {
    warnings.push(
      `${highestGlibc.path} needs GLIBC_${highestGlibc.version}; boards ship glibc ${BOARD_GLIBC_MAX}`,
    );
  }
  if (
    highestGlibcxx &&
    compareVersions(parse(highestGlibcxx.version), parse(BOARD_GLIBCXX_MAX)) > 0
  ) {
    warnings.push(
      `${highestGlibcxx.path} needs GLIBCXX_${highestGlibcxx.version}; boards ship up to GLIBCXX_${BOARD_GLIBCXX_MAX}`,
    );
  }
  return {
    expectedMachine: machineName(EM_AARCH64),
    files: [...files].sort((a, b) => a.path.localeCompare(b.path)),
    ...(highestGlibc ? { highestGlibc } : {}),
    ...(highestGlibcxx ? { highestGlibcxx } : {}),
    warnings,
  };
}

/** Throws BMF_ERR_CROSS_ARCH naming the first file that is not AArch64 ELF. */
export function assertAllAarch64(manifest: NativeManifest): void {
  const expected = manifest.expectedMachine;
  const wrong = manifest.files.filter((f) => f.machine !== expected);
  const first = wrong[0];
  if (first) {
    const others = wrong.length > 1 ? ` (and ${wrong.length - 1} more)` : '';
    throw bmfError('BMF_ERR_CROSS_ARCH', {
      path: `${first.path}${others}`,
      found: first.machine,
      expected: `${expected} ELF`,
    });
  }
}

/** Walks `root` and describes every native candidate in it. */
export async function scanNativeFiles(root: string): Promise<NativeFile[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const out: NativeFile[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const abs = join(e.parentPath, e.name);
    const rel = relative(root, abs).split(sep).join('/');
    if (!isNativeCandidate(rel)) continue;
    out.push(describeNative(rel, await readFile(abs)));
  }
  return out;
}
