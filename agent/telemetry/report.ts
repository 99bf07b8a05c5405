// One interval's VariantReport as the wire TelemetryReport (shared/wire), the form the outbox
// stores and the controller merges.
import { bmfError } from '../../shared/errors.js';
import type { DeviceId } from '../../shared/ids.js';
import { encodeMessage } from '../../shared/wire/codec.js';
import { LATENCY_STAGES } from '../../shared/wire/messages.js';
import type { DeviceStats, RequestCounters, RuntimeKind } from '../../shared/wire/messages.js';
import type { VariantReport } from './collector.js';

export interface ReportContext {
  readonly deviceId: DeviceId;
  readonly intervalStartMs: number;
  readonly intervalEndMs: number;
  readonly reportSequence: number;
  readonly device: DeviceStats;
  readonly runtime: RuntimeKind;
  readonly timingMode: string;
  /** Variant -> requests no model answered, carried by this report (wire failed_before_model). */
  readonly failedBeforeModel?: Readonly<Record<string, RequestCounters>>;
}

export function encodeTelemetryReport(r: VariantReport, ctx: ReportContext): Uint8Array {
  // A report names the bundle that served: an interval without one is refused as encoding an
  // empty digest always was.
  if (r.bundleDigest === undefined) {
    throw bmfError('BMF_ERR_WIRE_DECODE', {
      type: 'TelemetryReport',
      reason: 'no bundle served in the interval',
    });
  }
  // The collector accumulates the wire's own counters: they go out as they are.
  return encodeMessage('TelemetryReport', {
    deviceId: ctx.deviceId,
    variant: r.variant,
    bundleDigest: r.bundleDigest,
    intervalStartMs: ctx.intervalStartMs,
    intervalEndMs: ctx.intervalEndMs,
    reportSequence: ctx.reportSequence,
    counters: r.counters,
    latency: Object.fromEntries(LATENCY_STAGES.map((s) => [s, r.latency[s].toMessage()])),
    accuracy: r.accuracy,
    device: ctx.device,
    drift: [...r.drift],
    runtime: ctx.runtime,
    timingMode: ctx.timingMode,
    ...(ctx.failedBeforeModel && { failedBeforeModel: { ...ctx.failedBeforeModel } }),
  });
}
