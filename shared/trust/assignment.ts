// The per-device assignment, signed by the `assignment` role: which bundle(s) this device runs,
// how traffic splits between variants, how much to shadow, and the health limits that trigger a
// local rollback. Uptane: "install only what the server assigned to this device".
// Unknown top-level fields are accepted (and covered by the signature) so a newer controller can
// add optional fields without breaking older agents; everything known is typed and bounded.
import { Type, type Static } from '@sinclair/typebox';
import { MAX_MANIFEST_BYTES } from '../bundle/layout.js';
import { bmfError } from '../errors.js';
import { deepFreeze } from '../config/load.js';
import { DeviceIdSchema, DigestSchema } from '../ids.js';
import { assertSchema, ISO_TIME_PATTERN, isoToMs } from './validate.js';

const Strict = { additionalProperties: false } as const;

/** Upper bound on a signed bundle manifest blob (a few KB in practice), as for bundle dirs. */
export { MAX_MANIFEST_BYTES };

export const AssignmentVariantSchema = Type.Object(
  {
    /** 'A', 'B', ... */
    name: Type.String({ pattern: '^[A-Z][A-Za-z0-9_-]{0,31}$' }),
    bundle: Type.Object(
      {
        /** Bundle identity: sha256 of canonicalBytes(envelope.signed), see manifestDigest(). */
        digest: DigestSchema,
        sequence: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
        /**
         * The blob holding the signed manifest envelope (manifestBlobOf) and its exact size: the
         * device fetches and reads it bounded by `size`. Optional so assignments of controllers
         * that predate it still parse; without it the device fetches the blob named `digest`
         * bounded by MAX_MANIFEST_BYTES.
         */
        manifest: Type.Optional(
          Type.Object(
            {
              sha256: DigestSchema,
              size: Type.Integer({ minimum: 1, maximum: MAX_MANIFEST_BYTES }),
            },
            Strict,
          ),
        ),
      },
      Strict,
    ),
    weight: Type.Number({ minimum: 0, maximum: 1e6 }),
  },
  Strict,
);

export const AssignmentSchema = Type.Object({
  type: Type.Literal('assignment'),
  deviceId: DeviceIdSchema,
  sequence: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  expires: Type.String({ pattern: ISO_TIME_PATTERN }),
  variants: Type.Array(AssignmentVariantSchema, { minItems: 1, maxItems: 16 }),
  /** weighted: each request picks by weight; sticky: a device/session stays on one variant. */
  split: Type.Union([Type.Literal('weighted'), Type.Literal('sticky')]),
  /** Fraction of requests also run on the non-serving variant(s) for paired comparison. */
  shadowRate: Type.Number({ minimum: 0, maximum: 1 }),
  /**
   * Explicit, signed permission to install a bundle whose sequence is below the one the variant
   * serves (a rollback). Without it such a bundle is refused (BMF_ERR_TRUST_DOWNGRADE).
   */
  allowDowngrade: Type.Optional(Type.Boolean()),
  health: Type.Object(
    {
      maxErrorRate: Type.Number({ minimum: 0, maximum: 1 }),
      maxP95Ms: Type.Number({ exclusiveMinimum: 0 }),
      windowS: Type.Integer({ minimum: 1 }),
    },
    Strict,
  ),
});

export type Assignment = Static<typeof AssignmentSchema>;
export type AssignmentVariant = Static<typeof AssignmentVariantSchema>;

function invalid(field: string, reason: string): never {
  throw bmfError('BMF_ERR_TRUST_DOCUMENT_INVALID', { what: 'assignment', field, reason });
}

export function parseAssignment(value: unknown): Assignment {
  assertSchema(AssignmentSchema, value, (f) => invalid(f.field, f.reason));
  const names = new Set<string>();
  value.variants.forEach((v, i) => {
    if (names.has(v.name)) invalid(`variants[${i}].name`, `duplicate variant ${v.name}`);
    names.add(v.name);
  });
  if (!value.variants.some((v) => v.weight > 0)) invalid('variants', 'all weights are zero');
  if (Number.isNaN(isoToMs(value.expires))) invalid('expires', 'not a valid time');
  return deepFreeze(structuredClone(value));
}
