// A signed assignment as received (bytes of the envelope's JSON) becomes the reconcile target and
// the traffic split, after shared/trust verified it: assignment-role signatures and threshold,
// this device, expiry, and a sequence above the installed one (a replayed older assignment is a
// TUF rollback attack and is refused).
import { canonicalBytes } from '../../shared/bundle/canonical.js';
import { bmfError } from '../../shared/errors.js';
import type { Assignment } from '../../shared/trust/assignment.js';
import type { Root } from '../../shared/trust/root.js';
import { verifyAssignment } from '../../shared/trust/verify.js';
import type { TrafficSplit } from '../serve/traffic.js';
import type { HealthThresholds, VariantName } from '../serve/types.js';
import { sha256Hex } from '../store/blob-store.js';
import type { AssignedTarget } from './executors.js';
import type { Digest } from '../../shared/ids.js';

export interface AcceptedAssignment {
  readonly assignment: Assignment;
  /** Canonical envelope bytes (stored as a blob so a restart can resume from it). */
  readonly canonical: Uint8Array;
  readonly digest: Digest;
}

export function acceptAssignment(opts: {
  bytes: Uint8Array;
  root: Root;
  deviceId: string;
  installedSequence: number | undefined;
  now: Date;
}): AcceptedAssignment {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(opts.bytes));
  } catch (e) {
    throw bmfError('BMF_ERR_WIRE_DECODE', {
      type: 'SignedAssignment',
      reason: (e as Error).message,
    });
  }
  const { assignment } = verifyAssignment({
    root: opts.root,
    envelope: json,
    deviceId: opts.deviceId,
    installedSequence: opts.installedSequence,
    now: opts.now,
  });
  for (const v of assignment.variants) {
    if (v.name !== 'A' && v.name !== 'B') {
      throw bmfError('BMF_ERR_BAD_REQUEST', {
        reason: `assignment variant ${v.name}: the agent serves variants A and B`,
      });
    }
  }
  const canonical = canonicalBytes(json);
  return { assignment, canonical, digest: sha256Hex(canonical) };
}

export function targetOf(a: Assignment): AssignedTarget {
  return {
    sequence: a.sequence,
    variants: a.variants.map((v) => ({
      name: v.name as VariantName,
      bundleDigest: v.bundle.digest,
      ...(v.bundle.manifest && {
        manifest: { digest: v.bundle.manifest.sha256, size: v.bundle.manifest.size },
      }),
    })),
    ...(a.allowDowngrade === true && { allowDowngrade: true }),
  };
}

export function trafficOf(a: Assignment): TrafficSplit {
  const weight = (n: string): number => a.variants.find((v) => v.name === n)?.weight ?? 0;
  const total = weight('A') + weight('B');
  return {
    mode: a.split,
    weightB: total > 0 ? weight('B') / total : 0,
    shadowRate: a.shadowRate,
  };
}

export function healthOf(a: Assignment, minRequests: number): HealthThresholds {
  return {
    windowMs: a.health.windowS * 1000,
    minRequests,
    maxErrorRate: a.health.maxErrorRate,
    maxP95Ms: a.health.maxP95Ms,
  };
}
