// The controller's native kernels (native/histogram.cc), when `npm run build:native` has built
// them; undefined otherwise, and callers use the JavaScript kernels in histogram.ts, which count
// exactly alike (test/controller/quantize/native.test.ts compares them).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeKernels {
  countBins(lanes: Uint32Array, data: Float32Array, inv: number, last: number): void;
  minMax(data: Float32Array): [number, number];
}

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

let loaded: { kernels: NativeKernels | undefined } | undefined;

/** The addon's kernels, loaded once per process (BMFLEET_NATIVE=0 forces the JS kernels). */
export function nativeKernels(): NativeKernels | undefined {
  if (!loaded) {
    const path = process.env['BMFLEET_NATIVE'] === '0' ? undefined : addonPath();
    let kernels: NativeKernels | undefined;
    try {
      kernels = path ? (createRequire(import.meta.url)(path) as NativeKernels) : undefined;
    } catch {
      kernels = undefined; // built for another Node ABI or platform: the JS kernels serve
    }
    loaded = { kernels };
  }
  return loaded.kernels;
}
