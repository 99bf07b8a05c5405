// One interval's VariantReport as the wire TelemetryReport (shared/wire), the form the outbox
// stores and the controller merges.
import { encodeMessage } from '../../shared/wire/codec.js';
import { LATENCY_STAGES } from '../../shared/wire/messages.js';
import type { DeviceStats, RuntimeKind } from '../../shared/wire/messages.js';
import type { VariantReport } from './collector.js';

export interface ReportContext {
  readonly deviceId: string;
  readonly intervalStartMs: number;
  readonly intervalEndMs: number;
  readonly reportSequence: number;
  readonly device: DeviceStats;
  readonly runtime: RuntimeKind;
  readonly timingMode: string;
}

export function encodeTelemetryReport(r: VariantReport, ctx: ReportContext): Uint8Array {
  const a = r.accuracy;
  return encodeMessage('TelemetryReport', {
    deviceId: ctx.deviceId,
    variant: r.variant,
    bundleDigest: r.bundleDigest ?? '',
    intervalStartMs: ctx.intervalStartMs,
    intervalEndMs: ctx.intervalEndMs,
    reportSequence: ctx.reportSequence,
    counters: {
      requests: r.requests,
      errors: r.errors,
      errorsByCode: { ...r.errorsByCode },
      shadowRequests: a.shadowPairs + a.shadowFailures,
    },
    latency: Object.fromEntries(LATENCY_STAGES.map((s) => [s, r.latency[s].toMessage()])),
    accuracy: {
      goldenCorrect: a.goldenCorrect,
      goldenTotal: a.goldenTotal,
      // Absent stays absent: no golden cosine, no shadow pair -> the optional field is unset.
      ...(a.goldenCosineMin !== undefined && { goldenCosineMin: a.goldenCosineMin }),
      feedbackCorrect: a.feedbackCorrect,
      feedbackTotal: a.feedbackTotal,
      shadow: {
        pairs: a.shadowPairs,
        top1Agree: a.shadowTop1Agree,
        cosineSum: a.shadowCosineSum,
        ...(a.shadowCosineMin !== undefined && { cosineMin: a.shadowCosineMin }),
        bothCorrect: a.shadowLabelled.bothCorrect,
        aOnlyCorrect: a.shadowLabelled.aOnlyCorrect,
        bOnlyCorrect: a.shadowLabelled.bOnlyCorrect,
        bothWrong: a.shadowLabelled.bothWrong,
      },
      ...(a.detection.feedback > 0 && { detection: { ...a.detection } }),
    },
    device: ctx.device,
    drift: [...r.drift],
    runtime: ctx.runtime,
    timingMode: ctx.timingMode,
  });
}
