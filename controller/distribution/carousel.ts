// The broadcast carousel of one blob (pure). Chunks go out on the broadcast topic in order,
// wrapping around from the last chunk to the first. Every device that asks for the blob's offer
// while the carousel turns joins it and is owed one full turn: the carousel stops once every
// participant has had its turn. So devices that start a little later (a rollout's rate limit,
// slow assignment delivery) catch the next turn of the same run instead of starting runs of
// their own.
//
// A participant's turn starts when it first asks for chunks, which shows it holds the offer (the
// chunk table it needs to accept chunks): the offer travels to the device behind the broadcast
// chunks already queued for it, and chunks arriving before the offer are dropped by the device.
// Until then its turn counts from its joining, provisionally.
//
// INVARIANTS: `position` counts chunks published so far in this run (monotonic); the chunk at
// position p has index p % chunkCount; `until` >= (turn start + chunkCount) of every
// participant; the run publishes positions [0, until).

export interface Carousel {
  readonly chunkCount: number;
  position: number;
  until: number;
  /** device id -> where its turn starts, and whether that is confirmed by a chunk request */
  readonly joined: Map<string, { from: number; confirmed: boolean }>;
}

export function newCarousel(chunkCount: number, starters: Iterable<string>): Carousel {
  const c: Carousel = { chunkCount, position: 0, until: 0, joined: new Map() };
  for (const id of starters) join(c, id);
  return c;
}

/** A device asking for the offer joins at the current position; joining twice changes nothing. */
export function join(c: Carousel, deviceId: string): void {
  if (c.joined.has(deviceId)) return;
  c.joined.set(deviceId, { from: c.position, confirmed: false });
  c.until = Math.max(c.until, c.position + c.chunkCount);
}

/** A participant's first chunk request: its turn starts here. Others are ignored. */
export function confirm(c: Carousel, deviceId: string): void {
  const p = c.joined.get(deviceId);
  if (!p || p.confirmed) return;
  p.from = c.position;
  p.confirmed = true;
  c.until = Math.max(c.until, c.position + c.chunkCount);
}

/** Every participant so far holds the offer (has asked for chunks). */
export function allConfirmed(c: Carousel): boolean {
  for (const p of c.joined.values()) if (!p.confirmed) return false;
  return true;
}

/** The index to publish next, advancing the position; undefined when the run is over. */
export function next(c: Carousel): number | undefined {
  if (c.position >= c.until) return undefined;
  const index = c.position % c.chunkCount;
  c.position++;
  return index;
}

/**
 * Whether a chunk request from this device is left to the carousel. A participant's requests
 * are, for as long as the run turns: the run owes it a full turn, and a chunk it asks for that
 * already went out is most likely still on its way (hundreds of subscribers' socket buffers,
 * a busy device; measured by the fleet benchmark: serving those per device as if lost tripled
 * the bytes), so repair waits for the end of the run. Devices outside the run are served per
 * device.
 */
export function covers(c: Carousel, deviceId: string): boolean {
  return c.joined.has(deviceId);
}

/**
 * After the run ended (and until its settle time passes): only participants whose turn started
 * from a chunk request are left to it; their chunks went out and are most likely still on the
 * way. A participant that joined but asked for chunks only after the end had a provisional turn
 * it could not use (it did not hold the offer yet), so it is served per device at once instead
 * of waiting for its own request timeout.
 */
export function coversAfterEnd(c: Carousel, deviceId: string): boolean {
  return c.joined.get(deviceId)?.confirmed === true;
}
