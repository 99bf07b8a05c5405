// The root document pinned on every device: keys, roles (root, bundle, assignment) with k-of-n
// thresholds, a version and an expiry. Rotation follows the TUF client workflow (docs/vendor.md
// section 5): version N+1 must be signed by the threshold of version N AND its own, root versions
// are applied one at a time, an older version is a rollback, and only the final root's expiry is
// checked (an expired root can still be rotated away from: that is how a fleet recovers).
import { Type, type Static } from '@sinclair/typebox';
import { bmfError, isBmfError } from '../errors.js';
import { deepFreeze } from '../config/load.js';
import { checkThreshold, parseEnvelope, type Envelope } from './envelope.js';
import { ED25519_PUBLIC_HEX_PATTERN, keyIdOf } from './keys.js';
import { assertSchema, ISO_TIME_PATTERN, isoToMs, SHA256_HEX_PATTERN } from './validate.js';

export const ROLES = ['root', 'bundle', 'assignment'] as const;
export type RoleName = (typeof ROLES)[number];

const RoleSchema = Type.Object(
  {
    keyids: Type.Array(Type.String({ pattern: SHA256_HEX_PATTERN }), {
      minItems: 1,
      maxItems: 32,
      uniqueItems: true,
    }),
    threshold: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);

export const RootSchema = Type.Object(
  {
    type: Type.Literal('root'),
    version: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    expires: Type.String({ pattern: ISO_TIME_PATTERN }),
    keys: Type.Record(
      Type.String({ pattern: SHA256_HEX_PATTERN }),
      Type.Object(
        {
          scheme: Type.Literal('ed25519'),
          public: Type.String({ pattern: ED25519_PUBLIC_HEX_PATTERN }),
        },
        { additionalProperties: false },
      ),
    ),
    roles: Type.Object(
      { root: RoleSchema, bundle: RoleSchema, assignment: RoleSchema },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Root = Static<typeof RootSchema>;

function rootInvalid(reason: string): never {
  throw bmfError('BMF_ERR_TRUST_ROOT_INVALID', { reason });
}

/** Validate an (unsigned) root document. */
export function parseRoot(value: unknown): Root {
  assertSchema(RootSchema, value, (f) => rootInvalid(`${f.field}: ${f.reason}`));
  for (const [keyid, key] of Object.entries(value.keys)) {
    if (!new RegExp(SHA256_HEX_PATTERN).test(keyid)) rootInvalid(`key id ${keyid} is not sha256`);
    if (keyIdOf(key.public) !== keyid) rootInvalid(`key id ${keyid} is not sha256 of its key`);
  }
  if (Number.isNaN(isoToMs(value.expires))) rootInvalid('expires is not a valid time');
  for (const name of ROLES) {
    const role = value.roles[name];
    const missing = role.keyids.find((k) => !value.keys[k]);
    if (missing) rootInvalid(`role ${name} lists key ${missing} absent from keys`);
    if (role.threshold > role.keyids.length) {
      rootInvalid(
        `role ${name} threshold ${role.threshold} exceeds its ${role.keyids.length} keys`,
      );
    }
  }
  return deepFreeze(structuredClone(value));
}

/** Load a pinned root: it must be signed by its own root-role threshold. Expiry is checked at use. */
export function parseSignedRoot(json: unknown): { root: Root; envelope: Envelope } {
  const envelope = parseEnvelope(json, 'root envelope');
  const root = parseRoot(envelope.signed);
  try {
    checkThreshold(envelope, root.keys, root.roles.root, 'root');
  } catch (e) {
    if (!isBmfError(e)) throw e;
    rootInvalid(`not signed by its own root threshold: ${e.code}: ${e.message}`);
  }
  return { root, envelope };
}

export function checkNotExpired(what: string, expires: string, now: Date): void {
  if (now.getTime() >= isoToMs(expires)) throw bmfError('BMF_ERR_TRUST_EXPIRED', { what, expires });
}

function rotationStep(trusted: Root, json: unknown): Root {
  const envelope = parseEnvelope(json, 'root envelope');
  const next = parseRoot(envelope.signed);
  const fail = (reason: string): never => {
    throw bmfError('BMF_ERR_TRUST_ROOT_ROTATION', { version: next.version, reason });
  };
  for (const [which, keysOf] of [
    ['trusted', trusted],
    ['new', next],
  ] as const) {
    try {
      checkThreshold(envelope, keysOf.keys, keysOf.roles.root, 'root');
    } catch (e) {
      if (!isBmfError(e)) throw e;
      fail(`${which} root (version ${keysOf.version}) threshold not met: ${e.message}`);
    }
  }
  if (next.version <= trusted.version) {
    throw bmfError('BMF_ERR_TRUST_ROLLBACK', {
      what: 'root',
      sequence: next.version,
      installed: trusted.version,
    });
  }
  if (next.version !== trusted.version + 1) {
    fail(`skips from version ${trusted.version}; apply root versions one at a time`);
  }
  return next;
}

/** Apply root versions N+1, N+2, ... in order; the final root must not be expired. */
export function updateRootChain(trusted: Root, chain: readonly unknown[], now: Date): Root {
  let current = trusted;
  for (const json of chain) current = rotationStep(current, json);
  checkNotExpired(`root version ${current.version}`, current.expires, now);
  return current;
}

export function rotateRoot(trusted: Root, newSignedRoot: unknown, now: Date): Root {
  return updateRootChain(trusted, [newSignedRoot], now);
}

/**
 * Signatures on `env` meet `role`'s threshold under a trusted, unexpired root (a stale root is a
 * freeze attack). Returns the key ids that counted.
 */
export function verifyEnvelope(env: Envelope<unknown>, root: Root, role: RoleName, now: Date) {
  checkNotExpired(`root version ${root.version}`, root.expires, now);
  return checkThreshold(env, root.keys, root.roles[role], role);
}
