// Work on a whole model's bytes, done in slices with an event-loop turn between them. A hot-swap
// copies the new model's bytes (to move them to the simulator's thread) and hashes them (reading
// a blob back from the store); on a 14 MB MobileNetV2 each is one 9-14 ms synchronous step on the
// bench machine, during which no request is answered. One slice of 1 MiB costs 0.6-1 ms.
import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Bytes handled per synchronous step. */
export const SLICE_BYTES = 1 << 20;

export interface SliceOptions {
  readonly sliceBytes?: number;
  /** Resolves on a later event-loop turn (tests inject one that records what ran before it). */
  readonly yieldTurn?: () => Promise<unknown>;
  readonly signal?: AbortSignal | undefined;
}

/** The part of a hash these helpers use (node:crypto's Hash; tests pass a recording one). */
export interface SliceHash {
  update(data: Uint8Array): unknown;
  digest(encoding: 'hex'): string;
}

async function eachSlice(
  length: number,
  options: SliceOptions,
  step: (from: number, to: number) => void,
): Promise<void> {
  const size = Math.max(1, options.sliceBytes ?? SLICE_BYTES);
  const yieldTurn = options.yieldTurn ?? (() => nextTurn());
  for (let from = 0; from < length; from += size) {
    if (from > 0) await yieldTurn();
    options.signal?.throwIfAborted();
    step(from, Math.min(length, from + size));
  }
}

/** Copies `view`'s bytes to the start of `target` (at least as long). */
export async function copyIntoInSlices(
  target: Uint8Array,
  view: ArrayBufferView,
  options: SliceOptions = {},
): Promise<void> {
  const from = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  await eachSlice(view.byteLength, options, (a, b) => target.set(from.subarray(a, b), a));
}

/** A copy of `view`'s bytes in a new ArrayBuffer of exactly that size (one it may transfer). */
export async function copyInSlices(
  view: ArrayBufferView,
  options: SliceOptions = {},
): Promise<ArrayBuffer> {
  const target = new ArrayBuffer(view.byteLength);
  await copyIntoInSlices(new Uint8Array(target), view, options);
  return target;
}

/** sha256 (hex) of `bytes`. */
export async function sha256InSlices(
  bytes: Uint8Array,
  options: SliceOptions & { readonly hash?: SliceHash } = {},
): Promise<string> {
  const hash = options.hash ?? createHash('sha256');
  await eachSlice(bytes.byteLength, options, (a, b) => hash.update(bytes.subarray(a, b)));
  return hash.digest('hex');
}
