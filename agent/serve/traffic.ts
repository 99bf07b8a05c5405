// Which variant answers a request (pure). Weighted: an independent draw per request. Sticky: the
// request key's hash picks the same variant every time while the split stays the same, so one
// user or camera sees one model. Shadow: a sample of A's requests also runs on B.
import { createHash } from 'node:crypto';
import type { VariantName } from './types.js';

export interface TrafficSplit {
  readonly mode: 'weighted' | 'sticky';
  /** Share of requests for B, 0..1. */
  readonly weightB: number;
  /** Share of A's requests that B also runs in the shadow, 0..1. */
  readonly shadowRate: number;
}

export const ALL_TO_A: TrafficSplit = { mode: 'weighted', weightB: 0, shadowRate: 0 };

/** Uniform in [0, 1) from the first 48 bits of sha256(key). */
export function keyFraction(key: string): number {
  const h = createHash('sha256').update(key).digest();
  return h.readUIntBE(0, 6) / 2 ** 48;
}

export interface RouteInput {
  readonly split: TrafficSplit;
  readonly available: ReadonlySet<VariantName>;
  readonly requestKey: string | undefined;
  /** Uniform [0, 1) draws (injected so tests are deterministic). */
  readonly random: () => number;
}

export interface Route {
  readonly variant: VariantName;
  readonly shadow: VariantName | undefined;
}

export function routeRequest({
  split,
  available,
  requestKey,
  random,
}: RouteInput): Route | undefined {
  if (available.size === 0) return undefined;
  if (!available.has('B')) return { variant: 'A', shadow: undefined };
  if (!available.has('A')) return { variant: 'B', shadow: undefined };
  const draw =
    split.mode === 'sticky' && requestKey !== undefined ? keyFraction(requestKey) : random();
  const variant: VariantName = draw < split.weightB ? 'B' : 'A';
  const shadow =
    variant === 'A' && split.shadowRate > 0 && random() < split.shadowRate ? 'B' : undefined;
  return { variant, shadow };
}
