// Rollout vocabulary. Modelled on hawkBit's groups with success/error thresholds and on AWS IoT
// Jobs' rate limit, abort rule minimum, per-device timeout and retries (docs/vendor.md section 5).

import type { Digest } from '../../shared/ids.js';

export interface DeviceFilter {
  readonly ids?: readonly string[];
  readonly chip?: string;
  /** Every tag listed must match (`site=berlin`). */
  readonly tags?: Readonly<Record<string, string>>;
}

export type GroupSize = { readonly percent: number } | { readonly count: number };

export interface ErrorThreshold {
  /** Pause or roll back when this many devices of the group failed... */
  readonly count?: number;
  /** ...or when this percentage of the group failed... */
  readonly percent?: number;
  /** ...but only once this many devices of the group have finished (succeeded or failed). */
  readonly minFinished: number;
}

export interface HealthGate {
  /** Time the group must run the new bundle before its telemetry is judged. */
  readonly soakMs: number;
  readonly maxP95Ms?: number;
  /** Allowed p95 regression against the previous bundle, in percent. */
  readonly maxP95RegressionPct?: number;
  readonly maxErrorRate?: number;
  /** Minimum golden or shadow accuracy (0..1). */
  readonly minAccuracy?: number;
  /** Requests needed in the group before the gate can pass. */
  readonly minRequests?: number;
}

export interface RolloutSpec {
  readonly id: string;
  readonly bundle: Digest;
  /** Device ids per group, resolved from the filter when the rollout was created. */
  readonly groups: readonly (readonly string[])[];
  readonly successThresholdPct: number;
  readonly afterGroup: 'continue' | 'approval';
  readonly errorThreshold: ErrorThreshold;
  readonly onError: 'pause' | 'rollback';
  readonly deviceTimeoutMs: number;
  readonly maxRetries: number;
  readonly maxStartsPerMinute: number;
  readonly healthGate?: HealthGate;
  /**
   * Every assignment of this rollout carries the signed downgrade permission (a promotion that
   * takes devices back to a bundle of a lower sequence, e.g. an experiment's arm A). Rollback
   * actions carry it regardless.
   */
  readonly allowDowngrade?: boolean;
}

export type RolloutStatus =
  'running' | 'paused' | 'awaiting_approval' | 'completed' | 'cancelled' | 'rolled_back';

export type DeviceRolloutStatus =
  'pending' | 'assigned' | 'active' | 'failed' | 'timed_out' | 'rolled_back';

export interface DeviceProgress {
  readonly group: number;
  readonly status: DeviceRolloutStatus;
  readonly attempts: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  /** Bundle the device ran before this rollout reached it: the rollback target. */
  readonly previousBundle?: Digest;
  readonly error?: string;
}

export interface RolloutState {
  readonly status: RolloutStatus;
  readonly group: number;
  readonly devices: Readonly<Record<string, DeviceProgress>>;
  /** Start times within the last minute, for the rate limit. */
  readonly recentStarts: readonly number[];
  readonly soakStartedAt?: number;
  readonly reason?: string;
  readonly updatedAt: number;
}

/** What the controller knows of a device right now (from retained state and events). */
export interface DeviceObservation {
  readonly online: boolean;
  readonly activeBundle?: Digest;
  /** Last install failure reported by the device, for a bundle. */
  readonly failure?: { readonly bundle: Digest; readonly code: string; readonly at: number };
}

/** Merged telemetry of the current group over the soak window. */
export interface GroupHealth {
  readonly requests: number;
  readonly errorRate: number;
  readonly p95Ms?: number;
  readonly baselineP95Ms?: number;
  readonly accuracy?: number;
}

export type RolloutAction =
  | {
      readonly kind: 'assign';
      readonly deviceId: string;
      readonly bundle: Digest;
      readonly reason: 'start' | 'retry' | 'rollback';
    }
  | {
      readonly kind: 'event';
      readonly type: RolloutEventType;
      readonly message: string;
      readonly deviceId?: string;
    };

export type RolloutEventType =
  | 'group_started'
  | 'group_succeeded'
  | 'device_failed'
  | 'device_timed_out'
  | 'device_retry'
  | 'health_gate_failed'
  | 'error_threshold'
  | 'paused'
  | 'awaiting_approval'
  | 'completed'
  | 'rolled_back';
