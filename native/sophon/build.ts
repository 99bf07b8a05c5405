// `npm run build:sophon [-- --arch aarch64]`: builds the libsophon binding into
// build/sophon/bmfleet_sophon.node (build/sophon-aarch64 when cross-built) with CMake, against
// the Node-API headers of the Node running this script and node-addon-api (no download).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { bmfError } from '../../shared/errors.js';
import { archFromArgv, cmakeBuild, REPO_ROOT } from '../cmake.js';

export function bindingDir(arch: 'host' | 'aarch64'): string {
  return join(REPO_ROOT, 'build', arch === 'host' ? 'sophon' : 'sophon-aarch64');
}

const nodeInclude = join(dirname(dirname(process.execPath)), 'include', 'node');
if (!existsSync(join(nodeInclude, 'node_api.h'))) {
  throw bmfError('BMF_ERR_TOOLCHAIN_MISSING', {
    toolchain: 'Node-API headers',
    reason: `${nodeInclude}/node_api.h not found`,
  });
}
const addonApi = dirname(createRequire(import.meta.url).resolve('node-addon-api/package.json'));
const arch = archFromArgv(process.argv);
cmakeBuild({
  source: join(REPO_ROOT, 'native', 'sophon'),
  prefix: bindingDir(arch),
  arch,
  defines: { NODE_INCLUDE_DIR: nodeInclude, NODE_ADDON_API_DIR: addonApi },
});
