// The broadcast carousel of one blob (pure). Chunks go out on the broadcast topic in order,
// wrapping around from the last chunk to the first. Every device that asks for the blob's offer
// while the carousel turns joins it at the current position and is owed one full turn from
// there: the carousel stops once every participant has had its turn. So devices that start a
// little later (a rollout's rate limit, slow assignment delivery) catch the next turn of the same
// run instead of starting runs of their own.
//
// INVARIANTS: `position` counts chunks published so far in this run (monotonic); the chunk at
// position p has index p % chunkCount; `until` = max over participants of (join position +
// chunkCount); the run publishes positions [0, until).

export interface Carousel {
  readonly chunkCount: number;
  position: number;
  until: number;
  /** device id -> position when it joined */
  readonly joined: Map<string, number>;
}

export function newCarousel(chunkCount: number, starters: Iterable<string>): Carousel {
  const c: Carousel = { chunkCount, position: 0, until: 0, joined: new Map() };
  for (const id of starters) join(c, id);
  return c;
}

/** A device asking for the offer joins at the current position; joining twice changes nothing. */
export function join(c: Carousel, deviceId: string): void {
  if (c.joined.has(deviceId)) return;
  c.joined.set(deviceId, c.position);
  c.until = Math.max(c.until, c.position + c.chunkCount);
}

/** The index to publish next, advancing the position; undefined when the run is over. */
export function next(c: Carousel): number | undefined {
  if (c.position >= c.until) return undefined;
  const index = c.position % c.chunkCount;
  c.position++;
  return index;
}

/**
 * Whether the carousel will still publish `index` to this device: it is a participant and the
 * chunk has not gone out since it joined. A request for such a chunk is left to the carousel; any
 * other request (a chunk lost after it went out, or a device outside the run) is a repair.
 */
export function willSend(c: Carousel, deviceId: string, index: number): boolean {
  const at = c.joined.get(deviceId);
  if (at === undefined) return false;
  const sentSince = c.position - at;
  if (sentSince >= c.chunkCount) return false;
  const offset = (((index - at) % c.chunkCount) + c.chunkCount) % c.chunkCount;
  return offset >= sentSince;
}
