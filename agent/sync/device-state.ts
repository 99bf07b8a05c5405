// The state message the agent publishes, derived purely from what it knows: the persisted state,
// whether a model serves, whether an assignment is held, and the last error still standing.
import type { DeviceState, DeviceStatus } from '../../shared/wire/messages.js';
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
  readonly deviceId: string;
  readonly state: AgentState | undefined;
  readonly uptimeMs: number;
  readonly timeMs: number;
}

function perVariant(m: Partial<Record<VariantName, string>> | undefined) {
  return (Object.entries(m ?? {}) as [VariantName, string | undefined][]).map(
    ([variant, bundleDigest]) => ({
      variant,
      bundleDigest: bundleDigest ?? '',
      bundleSequence: 0,
    }),
  );
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
  };
}
