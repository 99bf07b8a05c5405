// Pure readings of what devices reported, for the rollout executor and the API.
import { eventCode } from '../../shared/events.js';
import type { Digest } from '../../shared/ids.js';
import type { Event, VariantBundle } from '../../shared/wire/messages.js';

/** The variant whose bundle counts as "the device runs it": A, or the only one. */
export function activeBundleOf(active: readonly VariantBundle[]): Digest | undefined {
  const a = active.find((v) => v.variant === 'A') ?? (active.length === 1 ? active[0] : undefined);
  // A Digest since the wire decoder (shared/wire/codec.ts).
  return a?.bundleDigest;
}

/**
 * An event that says a bundle failed to install or to stay installed on the device: any error
 * code (fetch, verify, load, gate) tied to a bundle, or the agent's own rollback away from it.
 */
export function isInstallFailure(e: Pick<Event, 'code' | 'bundleDigest'>): boolean {
  return installFailureBundle(e) !== undefined;
}

/** The bundle an install-failure event names (see isInstallFailure), else undefined. */
export function installFailureBundle(e: Pick<Event, 'code' | 'bundleDigest'>): Digest | undefined {
  if (e.bundleDigest === '') return undefined;
  return e.code.startsWith('BMF_ERR_') || e.code === eventCode('BMF_EVT_ROLLED_BACK')
    ? e.bundleDigest
    : undefined;
}
