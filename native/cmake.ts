// Drives CMake for the native parts built with it (native/libsophon-emulator, native/sophon):
// configure, build, install into a prefix. CMake is run directly rather than through cmake-js:
// cmake-js is not among the project's dependencies and fetches Node headers from the network
// unless pointed elsewhere, while the only headers a Node-API addon needs ship with Node
// (<prefix>/include/node) and node-addon-api. `aarch64` cross-builds with
// native/cmake/aarch64-linux-gnu.cmake (g++-aarch64-linux-gnu).
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bmfError } from '../shared/errors.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export type CmakeArch = 'host' | 'aarch64';

export interface CmakeBuild {
  /** Folder holding CMakeLists.txt. */
  readonly source: string;
  /** Where `cmake --install` puts the result. */
  readonly prefix: string;
  readonly arch: CmakeArch;
  readonly defines?: Readonly<Record<string, string>>;
}

function run(step: string, args: readonly string[]): void {
  const r = spawnSync('cmake', args, { stdio: 'inherit' });
  if (r.error || r.status !== 0) {
    throw bmfError('BMF_ERR_TOOLCHAIN_FAILED', {
      toolchain: 'cmake',
      step,
      exitCode: r.status ?? -1,
      reason: r.error?.message ?? `cmake ${args.join(' ')} failed`,
    });
  }
}

export function cmakeBuild(b: CmakeBuild): void {
  const work = join(REPO_ROOT, 'build', 'cmake', `${b.source.split('/').at(-1)}-${b.arch}`);
  const defines: Record<string, string> = { CMAKE_BUILD_TYPE: 'Release', ...b.defines };
  if (b.arch === 'aarch64') {
    defines['CMAKE_TOOLCHAIN_FILE'] = join(REPO_ROOT, 'native', 'cmake', 'aarch64-linux-gnu.cmake');
  }
  const d = Object.entries(defines).map(([k, v]) => `-D${k}=${v}`);
  run('configure', ['-S', b.source, '-B', work, `-DCMAKE_INSTALL_PREFIX=${b.prefix}`, ...d]);
  run('build', ['--build', work, '--parallel', String(Math.min(2, cpus().length))]);
  run('install', ['--install', work]);
}

/** `--arch aarch64` on the command line cross-builds; anything else builds for this host. */
export function archFromArgv(argv: readonly string[]): CmakeArch {
  const i = argv.indexOf('--arch');
  return i >= 0 && argv[i + 1] === 'aarch64' ? 'aarch64' : 'host';
}
