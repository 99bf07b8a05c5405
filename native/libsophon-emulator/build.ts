// `npm run build:libsophon-emulator [-- --arch aarch64]`: builds the libsophon emulator into
// build/libsophon-emulator/{include,lib,bin} (build/libsophon-emulator-aarch64 when cross-built),
// laid out like /opt/sophon/libsophon-current so BMFLEET_LIBSOPHON_DIR can point at it.
import { join } from 'node:path';
import { archFromArgv, cmakeBuild, REPO_ROOT } from '../cmake.js';

export function emulatorPrefix(arch: 'host' | 'aarch64'): string {
  return join(
    REPO_ROOT,
    'build',
    arch === 'host' ? 'libsophon-emulator' : 'libsophon-emulator-aarch64',
  );
}

const arch = archFromArgv(process.argv);
cmakeBuild({
  source: join(REPO_ROOT, 'native', 'libsophon-emulator'),
  prefix: emulatorPrefix(arch),
  arch,
});
