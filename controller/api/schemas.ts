// TypeBox schemas of the REST resources. They validate requests (validation.ts), shape
// responses (fast-json-stringify drops anything undeclared, so secrets cannot leak by accident),
// document the API (@fastify/swagger -> /docs) and type the API's client (client.ts derives
// every request and response type from them with Static<>, so a change here that a consumer
// does not follow fails the typecheck).
import { Type, type TSchema } from '@sinclair/typebox';
import { CHIPS } from '../../shared/bundle/manifest.js';
import { EnrolmentConfigSchema } from '../../shared/config/enrolment.js';
import { DeviceIdSchema, DigestSchema, VariantNameSchema } from '../../shared/ids.js';
import { ErrorResponseSchema } from './errors.js';
import { TelemetrySummarySchema } from '../telemetry/summary.js';

const Strict = { additionalProperties: false } as const;

export const DeviceId = DeviceIdSchema;
export const Digest = DigestSchema;
/** Where a request names a bundle: the digest or, as git does, a unique prefix (>= 8 hex). */
export const DigestRef = Type.String({
  pattern: '^[0-9a-fA-F]{1,64}$',
  description: 'bundle digest (sha256 hex) or a unique prefix of at least 8 hex digits',
});
export const ChipName = Type.Union(
  CHIPS.map((c) => Type.Literal(c)),
  { description: `target chip: ${CHIPS.join(', ')}` },
);
// A record's key pattern becomes patternProperties, which does not refuse other keys by itself:
// without additionalProperties false a key like "site name" or of 10 kB passed.
export const Tags = Type.Record(
  Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
  Type.String({ maxLength: 256 }),
  { additionalProperties: false },
);

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }, Strict);
/** /v1/devices/:id: the id is parsed here, at the edge, and travels as a DeviceId. */
export const DeviceParams = Type.Object({ id: DeviceId }, Strict);
export const DigestParams = Type.Object({ digest: DigestRef }, Strict);

export const VariantView = Type.Object({
  variant: VariantNameSchema,
  bundle: Type.String(),
  sequence: Type.Number(),
});

export const DeviceView = Type.Object({
  id: DeviceId,
  chip: Type.String(),
  tags: Type.Record(Type.String(), Type.String()),
  createdAt: Type.Number(),
  lastSeen: Type.Union([Type.Number(), Type.Null()]),
  online: Type.Boolean(),
  status: Type.Optional(Type.String()),
  activeBundle: Type.Optional(Type.String()),
  activeVariant: Type.Optional(VariantNameSchema),
  active: Type.Array(VariantView),
  assignmentSequence: Type.Optional(Type.Number()),
  lastErrorCode: Type.Optional(Type.String()),
});

export const DeviceList = Type.Object({ devices: Type.Array(DeviceView) });

export const DeviceCreateBody = Type.Object(
  { id: DeviceId, chip: ChipName, tags: Type.Optional(Tags) },
  Strict,
);

export const DeviceCreated = Type.Object({
  device: DeviceView,
  secret: Type.String({ description: 'shown once; only a salted hash is stored' }),
  agentConfig: EnrolmentConfigSchema,
  trustRoot: Type.Unknown({ description: 'signed root to pin; save as agentConfig.rootFile' }),
});

const BundleFileView = Type.Object({
  role: Type.String(),
  path: Type.String(),
  sha256: Type.String(),
  size: Type.Number(),
});

/** Declared field by field: the stored envelope bytes are not part of the view. */
export const BundleView = Type.Object({
  digest: Digest,
  model: Type.String(),
  version: Type.String(),
  sequence: Type.Number(),
  precision: Type.String(),
  chips: Type.Array(Type.String()),
  createdAt: Type.Number(),
  runtime: Type.Optional(Type.String()),
  files: Type.Optional(Type.Array(BundleFileView)),
  provenance: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  expires: Type.Optional(Type.String()),
  /** The signed manifest's expiry has passed (devices refuse it from then on). */
  expired: Type.Optional(Type.Boolean()),
  /** Who signed the manifest: each key, its algorithm, the root's roles that list it. */
  signatures: Type.Optional(
    Type.Array(
      Type.Object({
        keyid: Type.String(),
        algorithm: Type.String(),
        roles: Type.Array(Type.String()),
        verified: Type.Boolean(),
      }),
    ),
  ),
});

export const ModelView = Type.Object({
  name: Type.String(),
  createdAt: Type.Number(),
  bundles: Type.Integer(),
  latest: Type.Optional(BundleView),
});

export const ModelList = Type.Object({ models: Type.Array(ModelView) });
export const BundleList = Type.Object({ bundles: Type.Array(BundleView) });

export const BundlesQuery = Type.Object(
  { model: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })) },
  Strict,
);

export const BundleImportBody = Type.Object(
  {
    dir: Type.String({
      minLength: 1,
      maxLength: 4096,
      description: 'bundle dir on the controller host',
    }),
  },
  Strict,
);

export const AssignmentBody = Type.Object({ bundle: DigestRef }, Strict);
export const AssignmentAccepted = Type.Object({ device: Type.String(), bundle: Digest });

const GroupSize = Type.Union([
  Type.Object({ percent: Type.Number({ exclusiveMinimum: 0, maximum: 100 }) }, Strict),
  Type.Object({ count: Type.Integer({ minimum: 1 }) }, Strict),
]);

export const RolloutCreateBody = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' })),
    bundle: DigestRef,
    filter: Type.Object(
      {
        ids: Type.Optional(Type.Array(DeviceId, { maxItems: 100_000 })),
        chip: Type.Optional(ChipName),
        tags: Type.Optional(Tags),
      },
      Strict,
    ),
    groups: Type.Array(GroupSize, { minItems: 1, maxItems: 100, default: [{ percent: 100 }] }),
    successThresholdPct: Type.Number({ minimum: 0, maximum: 100, default: 100 }),
    afterGroup: Type.Union([Type.Literal('continue'), Type.Literal('approval')], {
      default: 'continue',
    }),
    errorThreshold: Type.Object(
      {
        count: Type.Optional(Type.Integer({ minimum: 1 })),
        percent: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100 })),
        minFinished: Type.Integer({ minimum: 0, default: 1 }),
      },
      { ...Strict, default: { percent: 50, minFinished: 1 } },
    ),
    onError: Type.Union([Type.Literal('pause'), Type.Literal('rollback')], { default: 'pause' }),
    deviceTimeoutMs: Type.Integer({ minimum: 1000, default: 600_000 }),
    maxRetries: Type.Integer({ minimum: 0, maximum: 100, default: 2 }),
    maxStartsPerMinute: Type.Integer({ minimum: 1, default: 1_000 }),
    healthGate: Type.Optional(
      Type.Object(
        {
          soakMs: Type.Integer({ minimum: 0 }),
          maxP95Ms: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
          maxP95RegressionPct: Type.Optional(Type.Number({ minimum: 0 })),
          maxErrorRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
          minAccuracy: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
          minRequests: Type.Optional(Type.Integer({ minimum: 0 })),
        },
        Strict,
      ),
    ),
  },
  Strict,
);

export const GroupProgress = Type.Object({
  index: Type.Integer(),
  size: Type.Integer(),
  counts: Type.Record(Type.String(), Type.Integer()),
});

const DeviceProgressView = Type.Object({
  group: Type.Integer(),
  status: Type.String(),
  attempts: Type.Integer(),
  startedAt: Type.Optional(Type.Number()),
  finishedAt: Type.Optional(Type.Number()),
  previousBundle: Type.Optional(Type.String()),
  error: Type.Optional(Type.String()),
});

export const RolloutView = Type.Object({
  id: Type.String(),
  bundle: Type.String(),
  status: Type.String(),
  group: Type.Integer(),
  reason: Type.Optional(Type.String()),
  createdAt: Type.Number(),
  updatedAt: Type.Number(),
  groups: Type.Array(GroupProgress),
  spec: Type.Record(Type.String(), Type.Unknown()),
  devices: Type.Optional(Type.Record(Type.String(), DeviceProgressView)),
});

export const RolloutList = Type.Object({ rollouts: Type.Array(RolloutView) });

export const ROLLOUT_COMMANDS = ['pause', 'resume', 'approve', 'cancel', 'rollback'] as const;

export const RolloutCommandParams = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 128 }),
    command: Type.Union(ROLLOUT_COMMANDS.map((c) => Type.Literal(c))),
  },
  Strict,
);

export const RolloutEventView = Type.Object({
  id: Type.Integer(),
  at: Type.Number(),
  type: Type.String(),
  deviceId: Type.Union([Type.String(), Type.Null()]),
  message: Type.String(),
});

export const RolloutEventList = Type.Object({ events: Type.Array(RolloutEventView) });

export const EventsQuery = Type.Object(
  {
    after: Type.Integer({ minimum: 0, default: 0 }),
    limit: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }),
  },
  Strict,
);

export const TelemetryQuery = Type.Object(
  {
    device: Type.Optional(DeviceId),
    bundle: Type.Optional(DigestRef),
    variant: Type.Optional(VariantNameSchema),
    from: Type.Optional(Type.Integer({ minimum: 0, description: 'ms since the epoch' })),
    to: Type.Optional(Type.Integer({ minimum: 0, description: 'ms since the epoch' })),
  },
  Strict,
);

export const GroupParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 128 }), n: Type.Integer({ minimum: 0 }) },
  Strict,
);

export const GroupHealthView = Type.Object({
  rollout: Type.String(),
  group: Type.Integer(),
  bundle: Type.String(),
  devices: Type.Integer(),
  sinceMs: Type.Number(),
  health: Type.Union([
    Type.Object({
      requests: Type.Number(),
      errorRate: Type.Number(),
      p95Ms: Type.Optional(Type.Number()),
      baselineP95Ms: Type.Optional(Type.Number()),
      accuracy: Type.Optional(Type.Number()),
    }),
    Type.Null(),
  ]),
});

/** GET /v1/telemetry: the telemetry part's own view schema. */
export const TelemetrySummaryView = TelemetrySummarySchema;

export const AnyJson = Type.Unknown();

/** Response map with the shared error shape for every non-success status. */
export function responses(ok: Record<number, TSchema>): Record<string, TSchema> {
  return { ...ok, '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema };
}
