// Exponential backoff with full jitter (pure): delay = random * min(cap, base * 2^attempt), so a
// fleet that lost its broker at the same moment does not reconnect in lockstep.
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 60_000 };

export function backoffDelay(policy: BackoffPolicy, attempt: number, random: number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random * ceiling);
}

/**
 * The link's reconnects and SUBSCRIBE retries. A node's death drops a third of a cluster's
 * devices in the same instant (docs/scaling.md, "A node's death"); with a fixed period they all
 * come back in the same second, again and again. The ceiling grows from `baseMs` to 30 s.
 */
export function linkBackoff(baseMs: number): BackoffPolicy {
  return { baseMs, capMs: Math.max(baseMs, 30_000) };
}

/**
 * Equal jitter: half the ceiling fixed, half drawn. Full jitter let a storm's devices retry a
 * refused SUBSCRIBE within milliseconds, while JetStream was still timing out the last one
 * (docs/scaling.md: twice the refusals and CPU in the 300-device storm). Never 0 ms: mqtt.js
 * takes a reconnect period of 0 as "never reconnect".
 */
export function linkRetryDelay(policy: BackoffPolicy, attempt: number, random: number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(1, Math.floor(ceiling / 2 + (random * ceiling) / 2));
}
