// Per-channel moments of preprocessed input tensors, the one computation behind both sides of
// field quantization health: the controller summarises the calibration inputs into the bundle
// (metadata.calibrationStats) and the agent accumulates the same moments over live requests
// (TelemetryReport.drift), so shared/stats/drift.ts compares like with like.
import type { DriftStats } from '../wire/messages.js';
import type { Tensor } from '../tensor.js';

export type ChannelLayout = 'nchw' | 'nhwc';

/** Empty accumulators, one per channel. */
export function emptyMoments(input: string, channels: number): DriftStats[] {
  return Array.from({ length: channels }, (_, channel) => ({
    input,
    channel,
    count: 0,
    sum: 0,
    sumSq: 0,
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
    clippedLow: 0,
    clippedHigh: 0,
  }));
}

/**
 * Add one tensor (batch first, then NCHW or NHWC) into the accumulators. For int8 tensors the
 * values at -128 and 127 are counted as clipped (the quantizer saturated them).
 */
export function accumulateMoments(acc: DriftStats[], t: Tensor, layout: ChannelLayout): void {
  const channels = acc.length;
  const data = t.data as ArrayLike<number>;
  const int8 = t.dtype === 'int8';
  const shape = t.shape;
  const c = layout === 'nchw' ? (shape[1] ?? 1) : (shape[shape.length - 1] ?? 1);
  if (c !== channels) return;
  const plane = layout === 'nchw' ? shape.slice(2).reduce((a, b) => a * b, 1) : 1;
  for (let i = 0; i < data.length; i++) {
    const ch = layout === 'nchw' ? Math.floor(i / plane) % channels : i % channels;
    const m = acc[ch] as DriftStats;
    const v = data[i] as number;
    m.count += 1;
    m.sum += v;
    m.sumSq += v * v;
    if (v < m.min) m.min = v;
    if (v > m.max) m.max = v;
    if (int8 && v <= -128) m.clippedLow += 1;
    if (int8 && v >= 127) m.clippedHigh += 1;
  }
}

export interface ChannelSummary {
  readonly input: string;
  readonly channel: number;
  readonly mean: number;
  /** Sample standard deviation. */
  readonly std: number;
}

export function summarizeMoments(acc: readonly DriftStats[]): ChannelSummary[] {
  return acc
    .filter((m) => m.count > 1)
    .map((m) => {
      const mean = m.sum / m.count;
      const variance = Math.max(0, (m.sumSq - m.count * mean * mean) / (m.count - 1));
      return { input: m.input, channel: m.channel, mean, std: Math.sqrt(variance) };
    });
}
