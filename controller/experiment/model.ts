// Experiment vocabulary: two bundles (A = incumbent, B = candidate, typically FP32 and INT8 of one
// model), a population, an allocation, metrics, guardrails and the minimum sample and duration
// before a winner may be promoted. The TypeBox schema validates a create request at the edge.
import { Type, type Static } from '@sinclair/typebox';
import { DeviceIdSchema, type Digest } from '../../shared/ids.js';
import { ChipName, DigestRef, Tags } from '../api/schemas.js';

/** A bundle digest or a unique prefix (>= 8 hex), resolved to the full digest on create. */
const Digest = DigestRef;
const Share = Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 });

export const ExperimentSpecSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }),
    bundleA: Digest,
    bundleB: Digest,
    // The population is the rollout filter's vocabulary: the same device id, chip and tag schemas.
    population: Type.Object(
      {
        ids: Type.Optional(Type.Array(DeviceIdSchema, { maxItems: 100000 })),
        chip: Type.Optional(ChipName),
        tags: Type.Optional(Tags),
      },
      { additionalProperties: false },
    ),
    allocation: Type.Union([
      Type.Object(
        {
          kind: Type.Literal('cohorts'),
          /** 'chip' or a tag name: each stratum is split by shareB separately. */
          stratifyBy: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          shareB: Share,
        },
        { additionalProperties: false },
      ),
      Type.Object(
        {
          kind: Type.Literal('traffic'),
          weightB: Share,
          /** Share of A's requests B also runs in the shadow (A-vs-B box agreement); default 0. */
          shadowRate: Type.Optional(Share),
        },
        { additionalProperties: false },
      ),
      Type.Object({ kind: Type.Literal('shadow'), rate: Share }, { additionalProperties: false }),
    ]),
    metrics: Type.Object(
      {
        /** Latency stages compared (telemetry stage names); default ['e2e']. */
        stages: Type.Optional(
          Type.Array(Type.String({ minLength: 1, maxLength: 32 }), { maxItems: 8 }),
        ),
        /** Relative latency change the experiment is sized to detect (0.05 = 5 %). */
        latencyMde: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
        /** Absolute accuracy change the experiment is sized to detect (0.01 = 1 point). */
        accuracyMde: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
      },
      { additionalProperties: false },
    ),
    guardrails: Type.Object(
      {
        /** Abort when B's error rate exceeds A's by more than this, with confidence. */
        maxErrorRateIncrease: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
        /** Abort when B's accuracy is below A's by more than this, with confidence. */
        maxAccuracyDrop: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
      },
      { additionalProperties: false },
    ),
    /** Requests per arm before promote is allowed (and before "no difference" is said). */
    minSamples: Type.Integer({ minimum: 1 }),
    minDurationMs: Type.Integer({ minimum: 0 }),
    /** Two-sided significance level of every comparison (default 0.05). */
    alpha: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 0.2 })),
  },
  { additionalProperties: false },
);

export type ExperimentSpecInput = Static<typeof ExperimentSpecSchema>;
/** An experiment as stored and run: its bundles resolved to full digests on create. */
export type ExperimentSpec = Omit<ExperimentSpecInput, 'bundleA' | 'bundleB'> & {
  readonly bundleA: Digest;
  readonly bundleB: Digest;
};
export type Allocation = ExperimentSpec['allocation'];
export type PopulationFilter = ExperimentSpec['population'];

export type ExperimentStatus = 'created' | 'running' | 'concluded' | 'aborted' | 'promoted';
export type Arm = 'A' | 'B';

export interface ExperimentLook {
  readonly at: number;
  readonly samplesA: number;
  readonly samplesB: number;
  readonly verdict: string;
}

export interface ExperimentState {
  readonly status: ExperimentStatus;
  readonly createdAt: number;
  readonly startedAt?: number;
  readonly endedAt?: number;
  readonly reason?: string;
  /** Population resolved at create time (device ids, sorted). */
  readonly devices: readonly string[];
  /** Cohorts: arm per device; traffic/shadow: every device runs both. */
  readonly arms?: Readonly<Record<string, Arm | 'both'>>;
  /** Always-valid p-value per metric after the last look (running minimum; mSPRT). */
  readonly alwaysValidP: Readonly<Record<string, number>>;
  readonly looks: readonly ExperimentLook[];
  readonly winner?: Arm;
  readonly rolloutId?: string;
}

export interface DeviceInfo {
  readonly id: string;
  readonly chip: string;
  readonly tags: Readonly<Record<string, string>>;
}

export const DEFAULT_ALPHA = 0.05;
export const DEFAULT_LATENCY_MDE = 0.05;
export const DEFAULT_ACCURACY_MDE = 0.02;
