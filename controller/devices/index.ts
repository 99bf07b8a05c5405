export { createDeviceTracker } from './tracker.js';
export type { DeviceTracker, DeviceView, DeviceEventRow, DeviceTrackerOptions } from './tracker.js';
export { activeBundleOf, isInstallFailure } from './observe.js';
