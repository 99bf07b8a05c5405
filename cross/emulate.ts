// Running the arm64 package on an x86-64 host with qemu user-mode emulation (Debian
// qemu-user-static, sysroot from libc6-arm64-cross + libstdc++6-arm64-cross). One quirk needs a
// workaround: qemu 7.2 passes the host's x86 /proc/cpuinfo through unchanged, and onnxruntime's
// CPU detection (the cpuinfo library) dereferences NULL on it and the process dies with SIGSEGV
// while loading the binding. A board has a real arm64 /proc/cpuinfo; here we bind-mount a
// Cortex-A53 one (the SoC boards' application cores) over it inside a private mount namespace.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const DEFAULT_SYSROOT = '/usr/aarch64-linux-gnu';
export const CPUINFO_FILE = new URL('qemu-cpuinfo.txt', import.meta.url);

export interface Emulator {
  readonly qemu: string;
  readonly sysroot: string;
}

export type EmulatorProbe =
  | { readonly ok: true; readonly emulator: Emulator }
  | { readonly ok: false; readonly reason: string };

function onPath(name: string, env: Readonly<Record<string, string | undefined>>): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** Finds qemu, the aarch64 sysroot and a usable private mount namespace, or says what is missing. */
export function probeEmulator(
  env: Readonly<Record<string, string | undefined>> = process.env,
): EmulatorProbe {
  const qemu = onPath('qemu-aarch64-static', env) ?? onPath('qemu-aarch64', env);
  if (!qemu) {
    return {
      ok: false,
      reason: 'qemu-aarch64-static not on PATH (apt-get install qemu-user-static)',
    };
  }
  const sysroot = env.BMFLEET_AARCH64_SYSROOT ?? DEFAULT_SYSROOT;
  for (const lib of ['lib/ld-linux-aarch64.so.1', 'lib/libstdc++.so.6']) {
    try {
      accessSync(join(sysroot, lib));
    } catch {
      return {
        ok: false,
        reason: `${join(sysroot, lib)} missing (apt-get install libc6-arm64-cross libstdc++6-arm64-cross)`,
      };
    }
  }
  const ns = spawnSync(
    'unshare',
    ['-m', 'sh', '-c', `mount --bind ${fileURLToPath(CPUINFO_FILE)} /proc/cpuinfo`],
    {
      encoding: 'utf8',
    },
  );
  if (ns.status !== 0) {
    const why = (ns.stderr || ns.error?.message || `exit ${ns.status}`).trim();
    return {
      ok: false,
      reason: `cannot bind-mount an arm64 /proc/cpuinfo in a private mount namespace (unshare -m needs root/CAP_SYS_ADMIN): ${why}`,
    };
  }
  return { ok: true, emulator: { qemu, sysroot } };
}

/** Wraps any command so it sees the arm64 /proc/cpuinfo (private mount namespace, needs root). */
export function withArmCpuinfo(argv: readonly string[]): string[] {
  return [
    'unshare',
    '-m',
    'sh',
    '-c',
    'mount --bind "$0" /proc/cpuinfo && exec "$@"',
    fileURLToPath(CPUINFO_FILE),
    ...argv,
  ];
}

/** argv that runs `argv` (an aarch64 executable and its arguments) under qemu with the cpuinfo fix. */
export function emulatedArgv(emulator: Emulator, argv: readonly string[]): string[] {
  return withArmCpuinfo([emulator.qemu, '-L', emulator.sysroot, ...argv]);
}

/** The value for the launcher's BMFLEET_AGENT_EMULATOR (paths here contain no spaces). */
export function emulatorPrefix(emulator: Emulator): string {
  return `${emulator.qemu} -L ${emulator.sysroot}`;
}
