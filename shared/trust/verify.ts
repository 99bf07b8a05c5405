// Device-side verification of signed documents against the pinned root. Order per the TUF/Uptane
// client checklist (docs/vendor.md section 5): signatures over canonical bytes first (nothing in an
// unverified document is trusted), then expiry (freeze), sequence (rollback), hardware
// compatibility (chip) or device binding (assignment).
import { createHash } from 'node:crypto';
import { bmfError } from '../errors.js';
import { parseDigest, type Digest } from '../ids.js';
import { canonicalBytes } from '../bundle/canonical.js';
import {
  parseBundle,
  type BundleInput,
  type BundleManifest,
  type Chip,
} from '../bundle/manifest.js';
import { parseAssignment, type Assignment } from './assignment.js';
import { parseEnvelope, type Envelope } from './envelope.js';
import { checkNotExpired, verifyEnvelope, type Root } from './root.js';

/**
 * A bundle's identity, the name an assignment uses for it: sha256 of the canonical bytes of the
 * signed manifest (`envelope.signed`). The signatures are not covered, so adding or replacing a
 * signature leaves the identity alone; they are checked against the root on every verification.
 */
export function manifestDigest(envelope: Envelope<unknown>): Digest {
  return parseDigest(createHash('sha256').update(canonicalBytes(envelope.signed)).digest('hex'));
}

/**
 * The blob that carries a signed manifest: the canonical envelope bytes (signatures included),
 * content-addressed like every other blob. Assignments name it with its size, so a device fetches
 * and reads it bounded by that size.
 */
export function manifestBlobOf(envelope: Envelope<unknown>): {
  bytes: Uint8Array;
  sha256: Digest;
  size: number;
} {
  const bytes = canonicalBytes(envelope);
  const sha256 = parseDigest(createHash('sha256').update(bytes).digest('hex'));
  return { bytes, sha256, size: bytes.length };
}

function checkSequence(what: string, sequence: number, installed: number | undefined): void {
  if (installed !== undefined && sequence <= installed) {
    throw bmfError('BMF_ERR_TRUST_ROLLBACK', { what, sequence, installed });
  }
}

export interface VerifiedBundle {
  readonly manifest: BundleManifest;
  /** The manifest's inputs with their preprocessing parsed (once, here at the edge). */
  readonly inputs: readonly BundleInput[];
  readonly envelope: Envelope;
  readonly digest: string;
  readonly signedBy: readonly string[];
}

export function verifyBundle(opts: {
  root: Root;
  envelope: unknown;
  /** The device's chip; omitted on the controller, which targets several. */
  chip?: Chip | undefined;
  /** Sequence of the installed bundle of this model; a new one must be strictly above it. */
  installedSequence?: number | undefined;
  now: Date;
}): VerifiedBundle {
  const envelope = parseEnvelope(opts.envelope, 'bundle envelope');
  const signedBy = verifyEnvelope(envelope, opts.root, 'bundle', opts.now);
  const { manifest, inputs } = parseBundle(envelope.signed);
  const what = `bundle ${manifest.name} ${manifest.version}`;
  checkNotExpired(what, manifest.expires, opts.now);
  checkSequence(what, manifest.sequence, opts.installedSequence);
  if (opts.chip !== undefined && !manifest.chips.includes(opts.chip)) {
    throw bmfError('BMF_ERR_TRUST_CHIP_MISMATCH', {
      targets: manifest.chips.join(','),
      chip: opts.chip,
    });
  }
  return { manifest, inputs, envelope, digest: manifestDigest(envelope), signedBy };
}

export interface VerifiedAssignment {
  readonly assignment: Assignment;
  readonly signedBy: readonly string[];
}

export function verifyAssignment(opts: {
  root: Root;
  envelope: unknown;
  deviceId: string;
  installedSequence?: number | undefined;
  now: Date;
}): VerifiedAssignment {
  const envelope = parseEnvelope(opts.envelope, 'assignment envelope');
  const signedBy = verifyEnvelope(envelope, opts.root, 'assignment', opts.now);
  const assignment = parseAssignment(envelope.signed);
  if (assignment.deviceId !== opts.deviceId) {
    throw bmfError('BMF_ERR_TRUST_WRONG_DEVICE', {
      target: assignment.deviceId,
      device: opts.deviceId,
    });
  }
  const what = `assignment for ${assignment.deviceId}`;
  checkNotExpired(what, assignment.expires, opts.now);
  checkSequence(what, assignment.sequence, opts.installedSequence);
  return { assignment, signedBy };
}
