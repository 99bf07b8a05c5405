// The one place agent happenings become wire Events: errors keep their BMF_ERR_* code, notable
// successes use BMF_EVT_* codes (shared/wire schema comment).
import { bmfError } from '../../shared/errors.js';
import type { BmfError, ErrorCode } from '../../shared/errors.js';
import type { EventCode } from '../../shared/events.js';
import type { Event, Severity } from '../../shared/wire/messages.js';
import type { ServeEvent, VariantName } from '../serve/types.js';
import type { DeviceId, Digest } from '../../shared/ids.js';

export function eventFromError(
  deviceId: DeviceId,
  timeMs: number,
  error: BmfError,
  context: { variant?: VariantName; bundleDigest?: Digest; step?: string } = {},
): Event {
  const details: Record<string, string> = {};
  for (const [k, v] of Object.entries(error.details)) if (v !== undefined) details[k] = String(v);
  if (context.step) details.step = context.step;
  return {
    deviceId,
    timeMs,
    severity: error.status >= 500 ? 'error' : 'warning',
    code: error.code,
    message: error.message.slice(0, 1000),
    details,
    variant: context.variant ?? '',
    bundleDigest: context.bundleDigest ?? '',
  };
}

/**
 * A regressed health window is reported once, as the rejection of its bundle (this error), so
 * the controller counts it as an install failure of that bundle; the rollback, when the planner
 * runs one, follows as BMF_EVT_ROLLED_BACK.
 */
export function healthRegression(e: Extract<ServeEvent, { kind: 'regressed' }>): BmfError {
  return bmfError('BMF_ERR_AGENT_HEALTH_REGRESSED', {
    bundle: e.bundleDigest,
    reason: e.reason,
  });
}

type AnnouncedServeEvent = Exclude<ServeEvent, { kind: 'regressed' }>;

const SERVE_EVENTS: Record<
  AnnouncedServeEvent['kind'],
  { code: EventCode | ErrorCode; severity: Severity }
> = {
  activated: { code: 'BMF_EVT_ACTIVATED', severity: 'info' },
  'gate-failed': { code: 'BMF_ERR_AGENT_GATE_FAILED', severity: 'warning' },
  healthy: { code: 'BMF_EVT_HEALTHY', severity: 'info' },
  'rolled-back': { code: 'BMF_EVT_ROLLED_BACK', severity: 'warning' },
  unloaded: { code: 'BMF_EVT_UNLOADED', severity: 'info' },
};

export function eventFromServe(deviceId: DeviceId, timeMs: number, e: AnnouncedServeEvent): Event {
  const { code, severity } = SERVE_EVENTS[e.kind];
  const details: Record<string, string> = {};
  let bundleDigest: Digest;
  let message: string = e.kind;
  switch (e.kind) {
    case 'gate-failed':
      bundleDigest = e.bundleDigest;
      message = `gate failed: ${e.reason}`;
      details.reason = e.reason;
      break;
    case 'rolled-back':
      bundleDigest = e.from;
      message = `rolled back to ${e.to}: ${e.reason}`;
      details.reason = e.reason;
      details.to = e.to;
      break;
    default:
      bundleDigest = e.bundleDigest;
  }
  return {
    deviceId,
    timeMs,
    severity,
    code,
    message,
    details,
    variant: e.variant,
    bundleDigest,
  };
}
