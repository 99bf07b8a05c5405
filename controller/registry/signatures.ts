// Who signed a stored bundle, for the bundle view: each signature of its envelope with the key's
// algorithm, the roles of the controller's root that list the key (shared/trust/root.ts: root,
// bundle, assignment), and whether it verifies over the signed manifest now. A key the root no
// longer lists (rotated away) shows with no roles and scheme "unknown"; it was trusted at import.
import { canonicalBytes } from '../../shared/bundle/canonical.js';
import { parseEnvelope } from '../../shared/trust/envelope.js';
import { verifySignature } from '../../shared/trust/keys.js';
import { ROLES, type Root, type RoleName } from '../../shared/trust/root.js';
import { isoToMs } from '../../shared/trust/validate.js';

export interface BundleSignature {
  readonly keyid: string;
  readonly algorithm: string;
  readonly roles: readonly RoleName[];
  readonly verified: boolean;
}

export function bundleSignatures(envelope: Uint8Array, root: Root): BundleSignature[] {
  const env = parseEnvelope(Buffer.from(envelope).toString('utf8'), 'bundle envelope');
  const bytes = canonicalBytes(env.signed);
  return env.signatures.map(({ keyid, sig }) => {
    const key = root.keys[keyid];
    return {
      keyid,
      algorithm: key?.scheme ?? 'unknown',
      roles: ROLES.filter((r) => root.roles[r].keyids.includes(keyid)),
      verified: key ? verifySignature(key.public, bytes, sig) : false,
    };
  });
}

/** True once the signed manifest's `expires` (ISO 8601) has passed. */
export const manifestExpired = (expires: string, nowMs: number): boolean =>
  !(isoToMs(expires) > nowMs);
