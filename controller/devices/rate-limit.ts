// Token buckets per device (pure: time comes in as an argument). A device may record `burst`
// events at once and `ratePerSecond` on average; what is over is dropped and counted, so one
// device cannot fill the controller's database with events (issue 17: 20,000 events of 7 KB
// grew it by 157 MB).
export interface TokenBucketOptions {
  readonly ratePerSecond: number;
  readonly burst: number;
}

export function createTokenBuckets(opts: TokenBucketOptions) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    /** Take one token for `key` at `nowMs`; false when the bucket is empty. */
    take(key: string, nowMs: number): boolean {
      const b = buckets.get(key) ?? { tokens: opts.burst, at: nowMs };
      const refill = (Math.max(0, nowMs - b.at) / 1000) * opts.ratePerSecond;
      b.tokens = Math.min(opts.burst, b.tokens + refill);
      b.at = nowMs;
      buckets.set(key, b);
      if (b.tokens < 1) return false;
      b.tokens -= 1;
      return true;
    },
    forget(key: string): void {
      buckets.delete(key);
    },
  };
}
