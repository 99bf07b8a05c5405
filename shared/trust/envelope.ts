// Signed envelopes `{ signed, signatures: [{ keyid, sig }] }`. Signatures are over
// canonicalBytes(signed), and a role's k-of-n threshold counts each authorised key once
// (TUF client checklist, docs/vendor.md section 5: a key signing twice must not count twice).
import { Type, type Static } from '@sinclair/typebox';
import { bmfError } from '../errors.js';
import { canonicalBytes } from '../bundle/canonical.js';
import { verifySignature, type Signer } from './keys.js';
import { assertSchema, SHA256_HEX_PATTERN } from './validate.js';

export const EnvelopeSchema = Type.Object(
  {
    signed: Type.Object({}, { additionalProperties: true }),
    signatures: Type.Array(
      Type.Object(
        {
          keyid: Type.String({ pattern: SHA256_HEX_PATTERN }),
          sig: Type.String({ maxLength: 1024 }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 64 },
    ),
  },
  { additionalProperties: false },
);

export interface Envelope<T = Record<string, unknown>> {
  readonly signed: T;
  readonly signatures: readonly { readonly keyid: string; readonly sig: string }[];
}

export interface RoleKeys {
  readonly keyids: readonly string[];
  readonly threshold: number;
}

export type KeyTable = Readonly<Record<string, { readonly public: string }>>;

export function parseEnvelope(json: unknown, what: string): Envelope {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json) as unknown;
    } catch (e) {
      throw bmfError('BMF_ERR_TRUST_DOCUMENT_INVALID', {
        what,
        field: '(document)',
        reason: `not JSON: ${(e as Error).message}`,
      });
    }
  }
  assertSchema(EnvelopeSchema, value, (f) => {
    throw bmfError('BMF_ERR_TRUST_DOCUMENT_INVALID', { what, field: f.field, reason: f.reason });
  });
  return value as Static<typeof EnvelopeSchema>;
}

export function signEnvelope<T extends object>(signed: T, signers: readonly Signer[]): Envelope<T> {
  const bytes = canonicalBytes(signed);
  return { signed, signatures: signers.map((s) => ({ keyid: s.keyid, sig: s.sign(bytes) })) };
}

/**
 * Count valid signatures by distinct authorised keys; return their ids once the threshold is met.
 * When it is not met the error says why, most specific first: a signature by an authorised key
 * that does not verify (tampering), then signatures by keys the role does not list, else too few.
 */
export function checkThreshold(
  env: Envelope<unknown>,
  keys: KeyTable,
  role: RoleKeys,
  roleName: string,
): string[] {
  const bytes = canonicalBytes(env.signed);
  const valid = new Set<string>();
  const bad: string[] = [];
  const unknown: string[] = [];
  for (const { keyid, sig } of env.signatures) {
    const key = keys[keyid];
    if (!role.keyids.includes(keyid) || !key) {
      unknown.push(keyid);
    } else if (!valid.has(keyid)) {
      if (verifySignature(key.public, bytes, sig)) valid.add(keyid);
      else bad.push(keyid);
    }
  }
  if (valid.size >= role.threshold) return [...valid];
  const context = {
    role: roleName,
    threshold: role.threshold,
    valid: valid.size,
    expected: role.keyids.join(', ') || '(no key)',
    unknownKeys: unknown.join(',') || undefined,
  };
  const badKey = bad.find((k) => !valid.has(k));
  if (badKey) throw bmfError('BMF_ERR_TRUST_BAD_SIGNATURE', { ...context, keyId: badKey });
  if (unknown[0]) throw bmfError('BMF_ERR_TRUST_UNKNOWN_KEY', { ...context, keyId: unknown[0] });
  throw bmfError('BMF_ERR_TRUST_THRESHOLD', context);
}
