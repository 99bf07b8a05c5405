// The libsophon emulator's documented output function (docs/libsophon.md, "Emulator outputs"),
// written again from the documentation so tests check the emulator's bytes independently.
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

const DTYPE_BYTES: Record<number, number> = {
  0: 4,
  1: 2,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 4,
  8: 2,
};

function hashBytes(h: number, b: Uint8Array): number {
  const words = b.length - (b.length % 4);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < words; i += 4) h = Math.imul(h ^ dv.getUint32(i, true), FNV_PRIME);
  for (let i = words; i < b.length; i++) h = Math.imul(h ^ b[i]!, FNV_PRIME);
  return h >>> 0;
}

function elementBits(seed: number, k: number, j: number): number {
  let x = (seed ^ Math.imul(k + 1, 0x9e3779b1)) >>> 0;
  x = (x + Math.imul(j, 0x85ebca6b)) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  return (x ^ (x >>> 15)) >>> 0;
}

const count = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Expected 1N bytes of every output for inputs given as 1N bytes. */
export function expectedOutputs(
  inputs: readonly { bytes: Uint8Array; shape: readonly number[] }[],
  outputs: readonly { dataType: number; shape: readonly number[] }[],
): Uint8Array[] {
  const n = inputs[0]!.shape[0] ?? 1;
  const batched = [...inputs.map((i) => i.shape), ...outputs.map((o) => o.shape)].every(
    (s) => s.length > 0 && s[0] === n,
  );
  const items = batched ? n : 1;
  const seeds = Array.from({ length: items }, (_, b) =>
    inputs.reduce((h, i) => {
      const per = i.bytes.length / items;
      return hashBytes(h, i.bytes.subarray(b * per, (b + 1) * per));
    }, FNV_OFFSET),
  );
  return outputs.map((o, k) => {
    const es = DTYPE_BYTES[o.dataType]!;
    const total = count(o.shape);
    const per = total / items;
    const out = new Uint8Array(total * es);
    const dv = new DataView(out.buffer);
    for (let b = 0; b < items; b++) {
      for (let j = 0; j < per; j++) {
        const x = elementBits(seeds[b]!, k, j);
        const at = (b * per + j) * es;
        if (o.dataType === 0) dv.setFloat32(at, ((x % 2048) - 1024) / 1024, true);
        else if (o.dataType === 1) dv.setUint16(at, x & 0x3bff, true);
        else if (o.dataType === 8) dv.setUint16(at, x & 0x3f7f, true);
        else if (es === 2) dv.setUint16(at, x & 0xffff, true);
        else if (es === 1) out[at] = x & 0xff;
        else dv.setUint32(at, x, true);
      }
    }
    return out;
  });
}
