// A mergeable latency sketch: DDSketch (Masson, Rim, Lee, "DDSketch: a fast and fully-mergeable
// quantile sketch with relative-error guarantees", VLDB 2019) from @datadog/sketches-js, with
// our own merge and wire encoding.
//
// Relative accuracy 0.5 %: DDSketch guarantees |estimate - x_q| <= alpha * x_q for the item of
// rank q. Issue 2 asks for <= 1 %; alpha = 0.005 leaves half the budget for floating-point
// rounding in the log mapping, at a cost of ~1,400 bins to cover 10 us .. 10 s (a sketch of
// typical latencies uses a few hundred, ~1-2 KiB encoded).
//
// Why not the library's merge and toProto: its merge skips the negative store and its range
// extension treats key 0 as "absent" (`secondKey || key`), and its proto drops count, sum, min
// and max. Merging bin by bin through `store.add` avoids both; LatencySketch in the wire schema
// carries the full state.
import { DDSketch } from '@datadog/sketches-js';
import { BmfError, bmfError } from '../errors.js';
import { decodeMessage, encodeMessage } from '../wire/codec.js';
import type { LatencySketchMessage } from '../wire/messages.js';
import { checkSketchMessage } from './sketch-message.js';

export const SKETCH_RELATIVE_ACCURACY = 0.005;
/** new DDSketch() builds a LogarithmicMapping with index offset 0. */
const INDEX_OFFSET = 0;
const SKETCH_GAMMA = new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY }).mapping.gamma;

function fail(reason: string): never {
  throw bmfError('BMF_ERR_STATS_SKETCH', { reason });
}

export class LatencySketch {
  readonly #dd = new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY });

  /** Record one latency in milliseconds (finite, >= 0). */
  add(ms: number, weight = 1): void {
    if (!Number.isFinite(ms) || ms < 0) fail(`latency ${ms} is not a finite value >= 0`);
    if (!Number.isSafeInteger(weight) || weight < 1) fail(`weight ${weight} is not a count`);
    this.#dd.accept(ms, weight);
  }

  get count(): number {
    return this.#dd.count;
  }
  get sum(): number {
    return this.#dd.sum;
  }
  /** NaN when empty. */
  get min(): number {
    return this.count === 0 ? NaN : this.#dd.min;
  }
  /** NaN when empty. */
  get max(): number {
    return this.count === 0 ? NaN : this.#dd.max;
  }
  get mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  /**
   * The value at quantile q (0..1) within SKETCH_RELATIVE_ACCURACY of the item of rank
   * floor(q * (count - 1)) in sorted order; NaN when empty. Clamped to [min, max], which only
   * tightens the bound since every item lies in that range.
   */
  quantile(q: number): number {
    if (!(q >= 0 && q <= 1)) fail(`quantile ${q} outside [0, 1]`);
    if (this.count === 0) return NaN;
    const v = this.#dd.getValueAtQuantile(q);
    return Math.min(Math.max(v, this.#dd.min), this.#dd.max);
  }

  /** Add every value of `other` to this sketch (other is unchanged). */
  merge(other: LatencySketch): void {
    // `other` holds its invariants by construction; only untrusted messages need checking.
    this.#addMessage(other.toMessage());
  }

  /** The full state as the wire message LatencySketch. */
  toMessage(): LatencySketchMessage {
    const dd = this.#dd;
    const store = dd.store;
    const binCounts: number[] = [];
    const empty = store.count === 0;
    const binOffset = empty ? 0 : store.minKey;
    if (!empty) {
      for (let key = store.minKey; key <= store.maxKey; key++) {
        binCounts.push(store.bins[key - store.offset] ?? 0);
      }
    }
    return {
      gamma: dd.mapping.gamma,
      indexOffset: INDEX_OFFSET,
      binOffset,
      binCounts,
      zeroCount: dd.zeroCount,
      count: dd.count,
      sum: dd.sum,
      min: dd.count === 0 ? 0 : dd.min,
      max: dd.count === 0 ? 0 : dd.max,
    };
  }

  encode(): Uint8Array {
    return encodeMessage('LatencySketch', this.toMessage());
  }

  /** Build a sketch from an (untrusted) message; throws BMF_ERR_STATS_SKETCH. */
  static fromMessage(m: LatencySketchMessage): LatencySketch {
    const s = new LatencySketch();
    s.mergeMessage(m);
    return s;
  }

  /** Decode untrusted bytes; every failure is BMF_ERR_STATS_SKETCH. */
  static decode(bytes: Uint8Array): LatencySketch {
    try {
      return LatencySketch.fromMessage(decodeMessage('LatencySketch', bytes));
    } catch (e) {
      if (e instanceof BmfError && e.code !== 'BMF_ERR_STATS_SKETCH') {
        throw bmfError('BMF_ERR_STATS_SKETCH', { reason: e.message }, { cause: e });
      }
      throw e;
    }
  }

  /**
   * Throws BMF_ERR_STATS_SKETCH unless `m`, already a self-consistent sketch (checkSketchMessage,
   * which decodeMessage runs on every sketch it returns), is on this sketch's mapping.
   */
  static checkMapping(m: LatencySketchMessage): void {
    // Same gamma is what makes bins line up (DDSketch mergeability); allow only float noise.
    if (Math.abs(m.gamma - SKETCH_GAMMA) > 1e-12 || m.indexOffset !== INDEX_OFFSET) {
      fail(`gamma ${m.gamma} / offset ${m.indexOffset} differ from this sketch's mapping`);
    }
  }

  /** Merge a sketch given as a wire message (validated here: it may come from a device). */
  mergeMessage(m: LatencySketchMessage): void {
    checkSketchMessage(m);
    LatencySketch.checkMapping(m);
    this.#addMessage(m);
  }

  /**
   * mergeMessage without its checks, for a message that has passed checkSketchMessage and
   * checkMapping already (a decoded report's sketch): ingestion would otherwise walk every bin
   * of every sketch three times.
   */
  mergeCheckedMessage(m: LatencySketchMessage): void {
    this.#addMessage(m);
  }

  #addMessage(m: LatencySketchMessage): void {
    if (m.count === 0) return;
    const dd = this.#dd;
    const wasEmpty = dd.count === 0;
    const bins = m.binCounts;
    let lo = 0;
    while (lo < bins.length && bins[lo] === 0) lo++;
    let hi = bins.length - 1;
    while (hi > lo && bins[hi] === 0) hi--;
    if (lo < bins.length) {
      // Highest and lowest key first, so the dense store grows to the whole range at most twice;
      // keys added in ascending order re-centre its array every few dozen bins.
      dd.store.add(m.binOffset + hi, bins[hi]!);
      if (lo < hi) dd.store.add(m.binOffset + lo, bins[lo]!);
      for (let i = lo + 1; i < hi; i++) {
        if (bins[i]! > 0) dd.store.add(m.binOffset + i, bins[i]!);
      }
    }
    dd.zeroCount += m.zeroCount;
    dd.count += m.count;
    dd.sum += m.sum;
    dd.min = wasEmpty ? m.min : Math.min(dd.min, m.min);
    dd.max = wasEmpty ? m.max : Math.max(dd.max, m.max);
  }
}

/** Merge many sketches (e.g. one per device) into a new one. */
export function mergeSketches(sketches: Iterable<LatencySketch>): LatencySketch {
  const out = new LatencySketch();
  for (const s of sketches) out.merge(s);
  return out;
}
