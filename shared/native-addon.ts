// The project's Node-API addon (native/, built by `npm run build:native`), loaded once per process
// for whichever part has kernels in it (controller calibration, shared preprocessing). Undefined
// when it is not built, built for another Node ABI, or BMFLEET_NATIVE=0: every kernel in it has a
// JavaScript twin that gives identical results.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ADDON = join('native', 'build', 'Release', 'bmfleet_native.node');

/** The package root: the first directory upwards holding native/ (source tree and dist/ alike). */
function addonPath(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, ADDON);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

let loaded: { addon: Readonly<Record<string, unknown>> | undefined } | undefined;

export function nativeAddon(): Readonly<Record<string, unknown>> | undefined {
  if (!loaded) {
    const path = process.env['BMFLEET_NATIVE'] === '0' ? undefined : addonPath();
    let addon: Record<string, unknown> | undefined;
    try {
      addon = path ? (createRequire(import.meta.url)(path) as Record<string, unknown>) : undefined;
    } catch {
      addon = undefined; // built for another Node ABI or platform: the JS kernels serve
    }
    loaded = { addon };
  }
  return loaded.addon;
}
