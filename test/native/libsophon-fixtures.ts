// Where the tests find the libsophon emulator and the binding, and why they skip without them.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const EMULATOR_DIR = fileURLToPath(
  new URL('../../build/libsophon-emulator/', import.meta.url),
);
export const EMULATOR_CHECK = `${EMULATOR_DIR}bin/libsophon-emulator-check`;
export const EMULATOR_SKIP_REASON =
  'libsophon emulator not built (npm run build:libsophon-emulator)';
export const emulatorBuilt = (): boolean => existsSync(`${EMULATOR_DIR}lib/libbmrt.so`);

export const BINDING_PATH = fileURLToPath(
  new URL('../../build/sophon/bmfleet_sophon.node', import.meta.url),
);
export const BINDING_SKIP_REASON = 'libsophon binding not built (npm run build:sophon)';

/** Why a test of the binding on the emulator cannot run here, or false when it can. */
export function bindingSkip(): string | false {
  if (!existsSync(BINDING_PATH)) return BINDING_SKIP_REASON;
  if (!emulatorBuilt()) return EMULATOR_SKIP_REASON;
  return false;
}

/** Seeded bytes (mulberry32) so inputs differ between items but runs repeat. */
export function seededBytes(length: number, seed: number): Uint8Array {
  let a = seed >>> 0;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (t ^ (t >>> 14)) & 0xff;
  }
  return out;
}
