// Which verified assignment becomes the target, decided purely from sequences (the TUF rule:
// never go back to an older one). Restored and live assignments meet here in arrival order;
// whatever the order, the newest one wins. agent/agent.ts runs them one at a time and acts on
// the decision (store the envelope, adopt the target, or report the replay).
import type { Digest } from '../../shared/ids.js';

export type AssignmentSource = 'live' | 'restore';

export interface AssignmentOrderFacts {
  /** Digest of the signed envelope that arrived. */
  readonly digest: Digest;
  readonly sequence: number;
  readonly source: AssignmentSource;
  /** Envelope the agent acts on now (the retained one comes again on every reconnect). */
  readonly adoptedDigest: Digest | undefined;
  /** Envelope persisted in state.json, and its sequence. */
  readonly persistedDigest: Digest | undefined;
  readonly persistedSequence: number | undefined;
  readonly installedSequence: number;
  /** Sequence of the target the sync context holds (0 before any). */
  readonly targetSequence: number;
}

export type AssignmentDecision =
  /** The same envelope again: not news. */
  | { readonly kind: 'same' }
  /** A restored envelope older than a target taken while the restore ran: not adopted. */
  | { readonly kind: 'stale'; readonly newer: number }
  /** A live envelope not newer than one already held: a replay, refused. */
  | { readonly kind: 'replay'; readonly installed: number }
  /** Adopt it; `persist` when it is not yet on disk (written before the broker's ack). */
  | { readonly kind: 'adopt'; readonly persist: boolean };

export function decideAssignment(f: AssignmentOrderFacts): AssignmentDecision {
  if (f.digest === f.adoptedDigest) return { kind: 'same' };
  const persisted = f.persistedDigest === f.digest;
  if (f.source === 'restore') {
    if (f.sequence < f.targetSequence) return { kind: 'stale', newer: f.targetSequence };
  } else if (!persisted) {
    const newest = Math.max(f.installedSequence, f.persistedSequence ?? 0, f.targetSequence);
    if (f.sequence <= newest) return { kind: 'replay', installed: newest };
  }
  return { kind: 'adopt', persist: !persisted };
}
