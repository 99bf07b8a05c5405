// The board package (cross/build.ts) as tests run it on an x86-64 host: under qemu-aarch64 with
// the arm64 /proc/cpuinfo fix (cross/emulate.ts), its own libsophon emulator as libsophon. Finds a
// package built beforehand (build/board in this checkout, or $BMFLEET_CROSS_PACKAGE) or says why
// the emulated run cannot happen here; it never builds anything.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OUT, packageName } from '../cross/build.js';
import { emulatorPrefix, probeEmulator, withArmCpuinfo } from '../cross/emulate.js';

export interface BoardPackage {
  readonly dir: string;
  /** bin/bmfleet-agent */
  readonly launcher: string;
  /** What the package's agent needs in its environment to run here (qemu, libsophon emulator). */
  readonly env: Readonly<Record<string, string>>;
  /** argv running the launcher with `args` under emulation (a private mount namespace). */
  argv(args: readonly string[]): string[];
}

export type BoardPackageProbe =
  | { readonly ok: true; readonly pkg: BoardPackage }
  | { readonly ok: false; readonly reason: string };

const REPO = fileURLToPath(new URL('..', import.meta.url));

export function boardPackageDir(env: NodeJS.ProcessEnv = process.env): string {
  const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
    version: string;
  };
  return env.BMFLEET_CROSS_PACKAGE ?? join(DEFAULT_OUT, packageName(version));
}

/** The built package with its libsophon binding and emulator, and qemu to run it, or why not. */
export function findBoardPackage(env: NodeJS.ProcessEnv = process.env): BoardPackageProbe {
  const dir = boardPackageDir(env);
  if (!existsSync(join(dir, 'MANIFEST.json'))) {
    return {
      ok: false,
      reason: `no board package at ${dir} (build it with: npm run build:board; or set BMFLEET_CROSS_PACKAGE)`,
    };
  }
  if (!existsSync(join(dir, 'native', 'bmfleet_sophon.node'))) {
    return { ok: false, reason: `board package at ${dir} has no libsophon binding (rebuild it)` };
  }
  const probe = probeEmulator(env);
  if (!probe.ok) return probe;
  const launcher = join(dir, 'bin', 'bmfleet-agent');
  return {
    ok: true,
    pkg: {
      dir,
      launcher,
      env: {
        BMFLEET_AGENT_EMULATOR: emulatorPrefix(probe.emulator),
        BMFLEET_LIBSOPHON_DIR: join(dir, 'libsophon-emulator'),
      },
      argv: (args) => withArmCpuinfo([launcher, ...args]),
    },
  };
}
