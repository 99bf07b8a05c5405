// `npm run build:native`: compiles the controller's native kernels (native/histogram.cc, a
// Node-API addon) with node-gyp. Only Node-API headers are needed: node-gyp takes them from the
// Node installation running this script when it ships them (Debian's nodejs: /usr/include/node),
// so nothing is downloaded. Without the addon the JavaScript kernels are used (slower).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const prefix = dirname(dirname(process.execPath));
const headers = existsSync(join(prefix, 'include', 'node', 'common.gypi'));
const gyp = join(here, '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const args = [gyp, 'rebuild', '--directory', here, ...(headers ? [`--nodedir=${prefix}`] : [])];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exitCode = r.status ?? 1;
