// Input buffers for the simulator thread, reused instead of allocated per request. A fresh
// ArrayBuffer of a few hundred KB comes from mmap'd zero pages, and the first write to each page
// faults: for a MobileNetV2 input (600 KB) that costs several times the copy itself. Buffers the
// thread sends back are kept, a few per thread, and the next copy of the same size reuses one.
// Failed runs do not send their buffers back; those are simply collected (nothing leaks).

export interface BufferRecycler {
  /** A copy of `view`'s bytes in an ArrayBuffer of exactly that size, recycled when `reuse`. */
  copy(view: ArrayBufferView, reuse?: boolean): ArrayBuffer;
  /** Offers a buffer nobody else holds for a later copy. */
  give(buffer: ArrayBuffer): void;
  /** How many buffers are kept (tests). */
  size(): number;
}

export function createBufferRecycler(maxKept = 4): BufferRecycler {
  const kept: ArrayBuffer[] = [];
  return {
    copy(view, reuse = true) {
      const i = reuse ? kept.findIndex((b) => b.byteLength === view.byteLength) : -1;
      const target =
        i >= 0 ? (kept.splice(i, 1)[0] as ArrayBuffer) : new ArrayBuffer(view.byteLength);
      new Uint8Array(target).set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
      return target;
    },
    give(buffer) {
      if (buffer.byteLength === 0) return; // detached: nothing to reuse
      if (kept.length >= maxKept) kept.shift(); // the oldest size is the least likely needed
      kept.push(buffer);
    },
    size: () => kept.length,
  };
}
