// The edge where a device's telemetry bytes become a typed report. Nothing here throws: a bad
// report is a reason, which the service counts and drops (issue 5: "drop and count malformed
// ones", never crash the broker link).
import { isBmfError } from '../../shared/errors.js';
import { decodeMessage } from '../../shared/wire/codec.js';
import type { TelemetryReport } from '../../shared/wire/messages.js';
import { checkReportSketches } from './rollup.js';

export type DropReason =
  'too_large' | 'malformed' | 'sketch' | 'device_mismatch' | 'stale' | 'future' | 'internal';

export const DROP_REASONS: readonly DropReason[] = [
  'too_large',
  'malformed',
  'sketch',
  'device_mismatch',
  'stale',
  'future',
  'internal',
];

export interface DecodeLimits {
  /** Largest accepted payload (default: the wire limit for TelemetryReport). */
  readonly maxBytes?: number;
  /** Reports whose interval starts before this are older than retention. */
  readonly oldestMs: number;
  /** Reports whose interval starts after this come from a clock far ahead of ours. */
  readonly newestMs: number;
}

export type DecodedTelemetry =
  | { readonly ok: true; readonly report: TelemetryReport }
  | { readonly ok: false; readonly reason: DropReason; readonly message: string };

export function decodeTelemetry(
  topicDeviceId: string,
  payload: Uint8Array,
  limits: DecodeLimits,
): DecodedTelemetry {
  let report: TelemetryReport;
  try {
    report = decodeMessage(
      'TelemetryReport',
      payload,
      limits.maxBytes !== undefined ? { maxBytes: limits.maxBytes } : {},
    );
    checkReportSketches(report);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (isBmfError(e, 'BMF_ERR_WIRE_TOO_LARGE')) return { ok: false, reason: 'too_large', message };
    if (isBmfError(e, 'BMF_ERR_WIRE_DECODE')) return { ok: false, reason: 'malformed', message };
    if (isBmfError(e, 'BMF_ERR_STATS_SKETCH')) return { ok: false, reason: 'sketch', message };
    return { ok: false, reason: 'internal', message };
  }
  // The broker ACL already keeps a device on its own topics; the payload must agree with it,
  // or one device could file numbers under another's name.
  if (report.deviceId !== topicDeviceId) {
    return {
      ok: false,
      reason: 'device_mismatch',
      message: `report for ${report.deviceId} on the topic of ${topicDeviceId}`,
    };
  }
  if (report.intervalStartMs < limits.oldestMs) {
    return { ok: false, reason: 'stale', message: `interval ${report.intervalStartMs} too old` };
  }
  if (report.intervalStartMs > limits.newestMs) {
    return { ok: false, reason: 'future', message: `interval ${report.intervalStartMs} ahead` };
  }
  return { ok: true, report };
}
