// The controller's native kernels (native/histogram.cc), when `npm run build:native` has built
// them; undefined otherwise, and callers use the JavaScript kernels in histogram.ts, which count
// exactly alike (test/controller/quantize/native.test.ts compares them).
import { nativeAddon } from '../../shared/native-addon.js';

export interface NativeKernels {
  countBins(lanes: Uint32Array, data: Float32Array, inv: number, last: number): void;
  minMax(data: Float32Array): [number, number];
}

/** The addon's kernels, loaded once per process (BMFLEET_NATIVE=0 forces the JS kernels). */
export function nativeKernels(): NativeKernels | undefined {
  const addon = nativeAddon();
  return addon && typeof addon['countBins'] === 'function'
    ? (addon as unknown as NativeKernels)
    : undefined;
}
