// What a restart restores, decided from the state file alone: per variant, the bundle it served
// and then its last-known-good, each tried once in that order (verified again from the store by
// the caller); the first that installs is served.
import { VARIANT_NAMES } from '../../shared/ids.js';
import type { VariantName } from '../serve/types.js';
import type { AgentState } from '../store/state.js';
import type { Digest } from '../../shared/ids.js';

export interface RestoreVariant {
  readonly variant: VariantName;
  /** Bundles to try in order; the state is updated when one other than `active` installs. */
  readonly candidates: readonly Digest[];
  readonly active: Digest | undefined;
}

export function restorePlan(state: Pick<AgentState, 'active' | 'lastKnownGood'>): RestoreVariant[] {
  const plan: RestoreVariant[] = [];
  for (const variant of VARIANT_NAMES) {
    const active = state.active[variant];
    const candidates = [active, state.lastKnownGood[variant]].filter(
      (d, i, all): d is Digest => d !== undefined && all.indexOf(d) === i,
    );
    if (candidates.length > 0) plan.push({ variant, candidates, active });
  }
  return plan;
}
