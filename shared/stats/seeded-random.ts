// Seeded pseudo-random numbers: the same sequence on every platform and in every run, for data
// that must be reproducible (validation pixels, simulated traffic and latencies, fuzz cases).
// mulberry32 (Tommy Ettinger's public-domain 32-bit generator): small and fast, never for secrets.

/** mulberry32: one uint32 per call. */
export function seededUint32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  const next = seededUint32(seed);
  return () => next() / 4294967296;
}

/** `length` bytes, each the low byte of one draw. */
export function seededBytes(length: number, seed: number): Uint8Array {
  const next = seededUint32(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = next() & 0xff;
  return out;
}

/** A standard normal draw from two uniform ones (Box-Muller, cosine branch). */
export function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}
