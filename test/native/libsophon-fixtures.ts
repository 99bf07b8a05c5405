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
