// Invariants of an encoded latency sketch (wire message LatencySketch). Kept apart from
// sketch.ts so the wire codec can check sketches inside telemetry without importing the sketch
// class (which itself encodes through the codec).
import { bmfError } from '../errors.js';
import type { LatencySketchMessage } from '../wire/messages.js';
import { MAX_SKETCH_BINS } from '../wire/limits.js';

/** Keys of a logarithmic mapping with gamma ~1.01 stay far inside this for any latency. */
const MAX_ABS_KEY = 1_000_000;

function fail(reason: string): never {
  throw bmfError('BMF_ERR_STATS_SKETCH', { reason });
}

/** Throws BMF_ERR_STATS_SKETCH unless `m` is a self-consistent sketch of non-negative values. */
export function checkSketchMessage(m: LatencySketchMessage): void {
  if (!(m.gamma > 1 && m.gamma < 2)) fail(`gamma ${m.gamma} outside (1, 2)`);
  if (!Number.isFinite(m.indexOffset) || Math.abs(m.indexOffset) > MAX_ABS_KEY) {
    fail(`index offset ${m.indexOffset} out of range`);
  }
  if (m.binCounts.length > MAX_SKETCH_BINS) {
    fail(`${m.binCounts.length} bins exceed the limit ${MAX_SKETCH_BINS}`);
  }
  if (
    !Number.isSafeInteger(m.binOffset) ||
    Math.abs(m.binOffset) > MAX_ABS_KEY ||
    Math.abs(m.binOffset + m.binCounts.length) > MAX_ABS_KEY
  ) {
    fail(`bin offset ${m.binOffset} out of range`);
  }
  let total = m.zeroCount;
  for (const c of m.binCounts) {
    if (!Number.isSafeInteger(c) || c < 0) fail(`bin count ${c} is not a non-negative integer`);
    total += c;
  }
  if (!Number.isSafeInteger(m.zeroCount) || m.zeroCount < 0) fail(`zero count ${m.zeroCount}`);
  if (!Number.isSafeInteger(total) || total !== m.count) {
    fail(`count ${m.count} differs from the bins' total ${total}`);
  }
  if (!Number.isFinite(m.sum) || m.sum < 0) fail(`sum ${m.sum} must be finite and >= 0`);
  if (m.count === 0) {
    if (m.min !== 0 || m.max !== 0 || m.sum !== 0) fail('an empty sketch has min = max = sum = 0');
    return;
  }
  if (!(Number.isFinite(m.min) && Number.isFinite(m.max) && m.min >= 0 && m.min <= m.max)) {
    fail(`min ${m.min} / max ${m.max} invalid`);
  }
}
