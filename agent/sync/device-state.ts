// The state message the agent publishes, derived purely from what it knows: the persisted state,
// whether a model serves, whether an assignment is held, and the last error still standing.
import { VARIANT_NAMES, type DeviceId, type Digest } from '../../shared/ids.js';
import type {
  DeviceState,
  DeviceStatus,
  StateOrder,
  VariantBundle,
} from '../../shared/wire/messages.js';
import type { VariantName } from '../serve/types.js';
import type { AgentState } from '../store/state.js';

export interface StatusFacts {
  readonly serving: boolean;
  readonly assigned: boolean;
  /** Code of the last error still standing ('' once the target is served in full). */
  readonly lastError: string;
}

export function deviceStatus(f: StatusFacts): DeviceStatus {
  if (!f.serving) return f.assigned ? 'syncing' : 'idle';
  return f.lastError ? 'degraded' : 'active';
}

export interface DeviceStateFacts extends StatusFacts {
  readonly deviceId: DeviceId;
  readonly state: AgentState | undefined;
  readonly uptimeMs: number;
  readonly timeMs: number;
  readonly order: StateOrder;
}

function perVariant(m: Partial<Record<VariantName, Digest>> | undefined): VariantBundle[] {
  return VARIANT_NAMES.flatMap((variant) => {
    const bundleDigest = m?.[variant];
    return bundleDigest === undefined ? [] : [{ variant, bundleDigest, bundleSequence: 0 }];
  });
}

export function deviceStateOf(f: DeviceStateFacts): DeviceState {
  return {
    deviceId: f.deviceId,
    active: perVariant(f.state?.active),
    lastKnownGood: perVariant(f.state?.lastKnownGood),
    assignmentSequence: f.state?.installedSequence ?? 0,
    status: deviceStatus(f),
    lastErrorCode: f.lastError,
    uptimeMs: Math.round(f.uptimeMs),
    timeMs: f.timeMs,
    bootId: f.order.bootId,
    stateSeq: f.order.stateSeq,
  };
}
