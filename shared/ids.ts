// The one home of the identifiers both sides agree on: device ids, content digests and variant
// names. Each pattern is written here once; schemas (TypeBox) and checks are derived from it.
import { Type } from '@sinclair/typebox';

/**
 * Device ids appear inside MQTT topics and broker ACLs, so they must not contain topic level
 * separators or wildcards ('/', '+', '#', MQTT 3.1.1 section 4.7) nor start with '$' (reserved
 * for broker topics, section 4.7.2). A safe ASCII charset keeps them printable in logs.
 */
export const DEVICE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
const DEVICE_ID = new RegExp(DEVICE_ID_PATTERN);
export type DeviceId = string;
export const DeviceIdSchema = Type.String({ pattern: DEVICE_ID_PATTERN });
export const isDeviceId = (s: string): boolean => DEVICE_ID.test(s);

/** A sha256 in lower-case hex: bundle digests, blob names, key ids. */
export const DIGEST_PATTERN = '^[0-9a-f]{64}$';
const DIGEST = new RegExp(DIGEST_PATTERN);
export type Digest = string;
export const DigestSchema = Type.String({ pattern: DIGEST_PATTERN });
export const isDigest = (s: string): boolean => DIGEST.test(s);

/**
 * The variants a device runs. Signed assignments and the agent spell them 'A'/'B'; wire messages
 * (shared/wire, whose name rule is lower case) carry 'a'/'b'. The two spellings meet only here:
 * `wireVariant` when a message is written, `variantFromWire` (either case) when one is read.
 */
export const VARIANT_NAMES = ['A', 'B'] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];

/** '' (no variant) stays ''. */
export function wireVariant(variant: string): string {
  return variant.toLowerCase();
}

export function variantFromWire(s: string): VariantName | undefined {
  const upper = s.toUpperCase();
  return (VARIANT_NAMES as readonly string[]).includes(upper) ? (upper as VariantName) : undefined;
}
