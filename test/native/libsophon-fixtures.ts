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
