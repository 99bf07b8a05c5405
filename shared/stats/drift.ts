// Field quantization health: do the live inputs still look like the calibration data the INT8
// model was built from? The agent reports per-input, per-channel running sums of the
// preprocessed values (wire DriftStats); the bundle carries the calibration statistics in
// manifest.metadata.calibrationStats (see parseCalibrationStats). INT8 calibration picks each
// tensor's threshold from the calibration distribution (docs/vendor.md section 1, "Quantization
// conventions"), so a shifted or widened live distribution saturates or wastes the int8 range.
//
// Thresholds (documented in docs/architecture.md, experiment section):
// - mean shift |live mean - calib mean| > 0.5 calibration std (a "medium" standardized effect,
//   Cohen's d = 0.5): the inputs moved by half their calibrated spread;
// - std ratio live/calib outside [2/3, 3/2]: spread changed by half again or shrank by a third;
// - clipped share > 1 % of values at the int8 limits (-128 / 127) for INT8-input models: the
//   quantizer's saturation is meant for rare outliers (KL / percentile calibration clips well
//   below 1 % of the calibration values);
// - nothing is judged on fewer than 1,000 values per channel.
import type { DriftStats } from '../wire/messages.js';

export interface ChannelCalibration {
  readonly input: string;
  readonly channel: number;
  readonly mean: number;
  readonly std: number;
}

export interface DriftThresholds {
  readonly maxMeanShiftStd: number;
  readonly minStdRatio: number;
  readonly maxStdRatio: number;
  readonly maxClippedShare: number;
  readonly minCount: number;
}

export const DEFAULT_DRIFT_THRESHOLDS: DriftThresholds = {
  maxMeanShiftStd: 0.5,
  minStdRatio: 2 / 3,
  maxStdRatio: 1.5,
  maxClippedShare: 0.01,
  minCount: 1000,
};

export interface ChannelDrift {
  readonly input: string;
  readonly channel: number;
  readonly count: number;
  readonly liveMean: number;
  readonly liveStd: number;
  readonly calibMean?: number;
  readonly calibStd?: number;
  /** (live mean - calib mean) / calib std. */
  readonly meanShiftStd?: number;
  readonly stdRatio?: number;
  readonly clippedShare: number;
  readonly reasons: readonly string[];
}

export interface DriftVerdict {
  /** True when the INT8 calibration looks suspect for the live inputs. */
  readonly suspect: boolean;
  /** True when no channel had enough values to judge. */
  readonly insufficient: boolean;
  readonly reasons: readonly string[];
  readonly channels: readonly ChannelDrift[];
}

/** The running sums of one (input, channel), without naming it. */
export type DriftCounters = Omit<DriftStats, 'input' | 'channel'>;

/** `a` and `b` summed; a side with no values (count 0) adds nothing, its min and max included. */
export function addDriftCounters(a: DriftCounters, b: DriftCounters): DriftCounters {
  if (a.count === 0) return { ...b };
  if (b.count === 0) return { ...a };
  return {
    count: a.count + b.count,
    sum: a.sum + b.sum,
    sumSq: a.sumSq + b.sumSq,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
    clippedLow: a.clippedLow + b.clippedLow,
    clippedHigh: a.clippedHigh + b.clippedHigh,
  };
}

/** Sum DriftStats of many reports/devices per (input, channel). */
export function mergeDriftStats(list: Iterable<DriftStats>): DriftStats[] {
  const byKey = new Map<string, DriftStats>();
  for (const d of list) {
    const key = `${d.input}\u0000${d.channel}`;
    const prev = byKey.get(key);
    byKey.set(
      key,
      prev ? { input: d.input, channel: d.channel, ...addDriftCounters(prev, d) } : { ...d },
    );
  }
  return [...byKey.values()].sort(
    (x, y) => x.input.localeCompare(y.input) || x.channel - y.channel,
  );
}

/**
 * Read calibration statistics from a manifest's metadata (signed, but written by any producer,
 * so parsed defensively): `calibrationStats: [{ input, channel, mean, std }]`. Entries that do
 * not fit are ignored.
 */
export function parseCalibrationStats(
  metadata: Readonly<Record<string, unknown>>,
): ChannelCalibration[] {
  const raw = metadata['calibrationStats'];
  if (!Array.isArray(raw)) return [];
  const out: ChannelCalibration[] = [];
  for (const e of raw as unknown[]) {
    if (typeof e !== 'object' || e === null) continue;
    const r = e as Record<string, unknown>;
    const { input, channel, mean, std } = r;
    if (
      typeof input === 'string' &&
      Number.isInteger(channel) &&
      typeof mean === 'number' &&
      Number.isFinite(mean) &&
      typeof std === 'number' &&
      std >= 0
    ) {
      out.push({ input, channel: channel as number, mean, std });
    }
  }
  return out;
}

export function assessDrift(
  live: readonly DriftStats[],
  calibration: readonly ChannelCalibration[],
  options: { int8Input: boolean; thresholds?: DriftThresholds },
): DriftVerdict {
  const th = options.thresholds ?? DEFAULT_DRIFT_THRESHOLDS;
  const calib = new Map(calibration.map((c) => [`${c.input}\u0000${c.channel}`, c]));
  const channels: ChannelDrift[] = [];
  let judged = 0;
  for (const d of mergeDriftStats(live)) {
    const n = d.count;
    const liveMean = n > 0 ? d.sum / n : NaN;
    const liveStd =
      n > 1 ? Math.sqrt(Math.max(0, (d.sumSq - n * liveMean * liveMean) / (n - 1))) : NaN;
    const clippedShare = n > 0 ? (d.clippedLow + d.clippedHigh) / n : 0;
    const c = calib.get(`${d.input}\u0000${d.channel}`);
    const reasons: string[] = [];
    const where = `${d.input}[${d.channel}]`;
    let meanShiftStd: number | undefined;
    let stdRatio: number | undefined;
    if (n >= th.minCount) {
      judged++;
      if (c) {
        if (c.std > 0) {
          meanShiftStd = (liveMean - c.mean) / c.std;
          stdRatio = liveStd / c.std;
          if (Math.abs(meanShiftStd) > th.maxMeanShiftStd) {
            reasons.push(`${where} mean moved ${meanShiftStd.toFixed(2)} calibration std`);
          }
          if (stdRatio < th.minStdRatio || stdRatio > th.maxStdRatio) {
            reasons.push(`${where} std is ${stdRatio.toFixed(2)}x the calibration std`);
          }
        }
      }
      if (options.int8Input && clippedShare > th.maxClippedShare) {
        reasons.push(
          `${where} ${(clippedShare * 100).toFixed(2)} % of values clipped at the int8 limits`,
        );
      }
    }
    channels.push({
      input: d.input,
      channel: d.channel,
      count: n,
      liveMean,
      liveStd,
      ...(c ? { calibMean: c.mean, calibStd: c.std } : {}),
      ...(meanShiftStd !== undefined ? { meanShiftStd } : {}),
      ...(stdRatio !== undefined ? { stdRatio } : {}),
      clippedShare,
      reasons,
    });
  }
  const reasons = channels.flatMap((c) => c.reasons);
  return { suspect: reasons.length > 0, insufficient: judged === 0, reasons, channels };
}
