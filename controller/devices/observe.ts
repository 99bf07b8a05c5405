// Pure readings of what devices reported, for the rollout executor and the API.
import { eventCode } from '../../shared/events.js';
import type { Event, VariantBundle } from '../../shared/wire/messages.js';

/** The variant whose bundle counts as "the device runs it": A, or the only one. */
export function activeBundleOf(active: readonly VariantBundle[]): string | undefined {
  const a = active.find((v) => v.variant === 'A') ?? (active.length === 1 ? active[0] : undefined);
  return a?.bundleDigest;
}

/**
 * An event that says a bundle failed to install or to stay installed on the device: any error
 * code (fetch, verify, load, gate) tied to a bundle, or the agent's own rollback away from it.
 */
export function isInstallFailure(e: Pick<Event, 'code' | 'bundleDigest'>): boolean {
  return (
    e.bundleDigest !== '' &&
    (e.code.startsWith('BMF_ERR_') || e.code === eventCode('BMF_EVT_ROLLED_BACK'))
  );
}
