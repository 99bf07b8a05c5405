// The rollout the executor tests drive: one device, then two, every device must succeed and the
// first error pauses. Bundles carry readable names for the assertions, held as the digests the
// rollout types carry.
import type { RolloutSpec } from '../../controller/rollout/model.js';
import { parseDigest, type Digest } from '../../shared/ids.js';

export const BUNDLES = {
  'b-new': parseDigest('1'.repeat(64)),
  'b-old': parseDigest('0'.repeat(64)),
};

/** The readable name of one of BUNDLES, else the digest itself. */
export const nameOf = (d: Digest): string =>
  Object.entries(BUNDLES).find(([, v]) => v === d)?.[0] ?? d;

/** Groups [d1] then [d2, d3] moving to b-new; `id` and the device timeout differ per test. */
export function twoGroupRollout(id: string, deviceTimeoutMs: number): RolloutSpec {
  return {
    id,
    bundle: BUNDLES['b-new'],
    groups: [['d1'], ['d2', 'd3']],
    successThresholdPct: 100,
    afterGroup: 'continue',
    errorThreshold: { count: 1, minFinished: 1 },
    onError: 'pause',
    deviceTimeoutMs,
    maxRetries: 0,
    maxStartsPerMinute: 10,
  };
}
