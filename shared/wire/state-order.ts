// The order a device gives its state reports (DeviceState boot_id and state_seq): written by the
// agent and by the simulated devices, compared by the controller's device store
// (controller/store/devices.ts). Two controller replicas may handle two reports of one device at
// once and store them in either order; the count lets the store keep the newer.
import { randomBytes } from 'node:crypto';
import type { StateOrder } from './messages.js';

/** One start's order: a random boot id, and a count from 1 for each report of that start. */
export function createStateOrder(bootId = randomBytes(8).toString('hex')): () => StateOrder {
  let seq = 0;
  return () => ({ bootId, stateSeq: ++seq });
}
