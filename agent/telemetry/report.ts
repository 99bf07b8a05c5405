// One interval's VariantReport as the wire TelemetryReport (shared/wire), the form the outbox
// stores and the controller merges.
import { encodeMessage } from '../../shared/wire/codec.js';
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
    variant: r.variant.toLowerCase(), // wire names are lower case (shared/wire/ids.ts)
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
    latency: {
      e2e: r.latency.total.toMessage(),
      preprocess: r.latency.preprocess.toMessage(),
      infer: r.latency.infer.toMessage(),
      postprocess: r.latency.postprocess.toMessage(),
    },
    accuracy: {
      goldenCorrect: Math.round((a.goldenAccuracy ?? 0) * a.goldenSamples),
      goldenTotal: a.goldenAccuracy === undefined ? 0 : a.goldenSamples,
      goldenCosineMin: a.goldenCosine ?? 0,
      feedbackCorrect: a.feedbackCorrect,
      feedbackTotal: a.feedbackTotal,
      shadow: {
        pairs: a.shadowPairs,
        top1Agree: a.shadowTop1Agree,
        cosineSum: a.shadowCosineSum,
        cosineMin: a.shadowPairs > 0 ? a.shadowCosineMin : 0,
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
