// The one home of the identifiers both sides agree on: device ids, content digests and variant
// names. Each pattern is written here once; schemas (TypeBox) and checks are derived from it.
// Device ids and digests are branded strings: a value of these types has passed its edge check
// once, so later code does not check or re-spell it. `as Digest` belongs only where such a check
// has just been made (or a schema has validated it).
import { Type } from '@sinclair/typebox';
import { bmfError } from './errors.js';

declare const brand: unique symbol;

/**
 * Device ids appear inside MQTT topics and broker ACLs, so they must not contain topic level
 * separators or wildcards ('/', '+', '#', MQTT 3.1.1 section 4.7) nor start with '$' (reserved
 * for broker topics, section 4.7.2). A safe ASCII charset keeps them printable in logs.
 */
export const DEVICE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
const DEVICE_ID = new RegExp(DEVICE_ID_PATTERN);
/** A device id: safe in MQTT topics and broker ACLs. */
export type DeviceId = string & { readonly [brand]: 'DeviceId' };
export const DeviceIdSchema = Type.Unsafe<DeviceId>(Type.String({ pattern: DEVICE_ID_PATTERN }));
export const isDeviceId = (s: string): s is DeviceId => DEVICE_ID.test(s);
/** A device id as an edge receives it (a command-line flag, a config value): checked once here. */
export function parseDeviceId(s: string, what = 'device id'): DeviceId {
  if (!isDeviceId(s)) {
    throw bmfError('BMF_ERR_BAD_REQUEST', {
      reason: `${what} "${s.slice(0, 80)}" must match ${DEVICE_ID_PATTERN}`,
    });
  }
  return s;
}

/** A sha256 in lower-case hex: bundle digests, blob names, key ids. */
export const DIGEST_PATTERN = '^[0-9a-f]{64}$';
const DIGEST = new RegExp(DIGEST_PATTERN);
export type Digest = string & { readonly [brand]: 'Digest' };
export const DigestSchema = Type.Unsafe<Digest>(Type.String({ pattern: DIGEST_PATTERN }));
export const isDigest = (s: string): s is Digest => DIGEST.test(s);
/** A digest as an edge receives it (a stored row, a request): checked once here. */
export function parseDigest(s: string, what = 'digest'): Digest {
  if (!isDigest(s)) {
    throw bmfError('BMF_ERR_BAD_REQUEST', {
      reason: `${what} "${s.slice(0, 80)}" must match ${DIGEST_PATTERN}`,
    });
  }
  return s;
}

/**
 * The variants a device runs, spelled 'A'/'B' everywhere: signed assignments, the agent, the
 * wire, the controller's store, the API and reports. Agents before this spelling wrote 'a'/'b'
 * on the wire; `parseVariant` is the one place that still reads that form, at the edges where
 * such messages (and rows stored from them) come in.
 */
export const VARIANT_NAMES = ['A', 'B'] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];
export const VariantNameSchema = Type.Union([Type.Literal('A'), Type.Literal('B')]);
export const isVariantName = (s: string): s is VariantName =>
  (VARIANT_NAMES as readonly string[]).includes(s);

/** A variant name as an edge receives it: 'A'/'B', or the earlier wire spelling 'a'/'b'. */
export function parseVariant(s: string): VariantName | undefined {
  if (isVariantName(s)) return s;
  const legacy = s.toUpperCase();
  return s.length === 1 && isVariantName(legacy) ? legacy : undefined;
}
