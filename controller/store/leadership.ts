// Which controller replica may act on rollouts and experiments. One process on SQLite needs no
// lease (soleLeadership); replicas on PostgreSQL share one (leaseLeadership over postgres/lease.ts).
//
// INVARIANTS: hold() renews the lease at most every renewMs on the injected clock and otherwise
// answers from the local deadline, which is the time the last successful acquire was *sent* plus
// the TTL less a margin: the database set its expiry later than that, so this replica stops
// believing it holds the lease before any other replica can take it. Writes under the lease are
// fenced as well (postgres/repos.ts Fence), so a pause longer than the margin (a stopped process)
// fails its write with BMF_ERR_LEASE_LOST instead of writing.
import type { Clock } from '../../shared/clock.js';
import { bmfError, type BmfError } from '../../shared/errors.js';
import type { PgLease } from './postgres/lease.js';

export interface Leadership {
  /** This replica, as the lease row names it. */
  readonly holder: string;
  /** True when this replica holds the lease now (taking or renewing it when due). */
  hold(): Promise<boolean>;
  /** The fencing token of the lease this replica holds (0 before it first held it). */
  token(): number;
  /** Give the lease up (shutdown), so another replica need not wait for the expiry. */
  release(): Promise<void>;
  /** The replica holding the lease now, as the store says (undefined: nobody, or unknown). */
  currentHolder(): Promise<string | undefined>;
}

/** The refusal of a replica that does not hold the lease: it names the one that does. */
export async function notLeaseHolder(leadership: Leadership, name: string): Promise<BmfError> {
  const holder = await leadership.currentHolder().catch(() => undefined);
  return bmfError('BMF_ERR_NOT_LEASE_HOLDER', {
    name,
    replica: leadership.holder,
    holder: holder ?? 'no replica (the lease is free or the store unreachable)',
  });
}

export function soleLeadership(): Leadership {
  return {
    holder: 'sole',
    hold: async () => true,
    token: () => 0,
    release: async () => undefined,
    currentHolder: async () => 'sole',
  };
}

export function leaseLeadership(
  lease: PgLease,
  opts: {
    readonly holder: string;
    readonly ttlMs: number;
    readonly clock: Pick<Clock, 'now'>;
    /** Renew this often while held (default a third of the TTL). */
    readonly renewMs?: number;
  },
): Leadership {
  const { clock, ttlMs } = opts;
  const renewMs = opts.renewMs ?? Math.floor(ttlMs / 3);
  // Clock-rate drift between this host and the database over one TTL.
  const marginMs = Math.max(1, Math.floor(ttlMs / 10));
  let token = 0;
  let heldUntil = -Infinity;
  let renewedAt = -Infinity;
  let acquiring: Promise<boolean> | undefined;
  async function acquire(): Promise<boolean> {
    const sentAt = clock.now();
    let t: number | undefined;
    try {
      t = await lease.acquire();
    } catch {
      // The database is away: we hold the lease only until the deadline already known.
      return clock.now() < heldUntil;
    }
    if (t === undefined) {
      heldUntil = -Infinity;
      return false;
    }
    token = t;
    renewedAt = sentAt;
    heldUntil = sentAt + ttlMs - marginMs;
    return clock.now() < heldUntil;
  }
  return {
    holder: opts.holder,
    hold() {
      const now = clock.now();
      if (now < heldUntil && now - renewedAt < renewMs) return Promise.resolve(true);
      acquiring ??= acquire().finally(() => (acquiring = undefined));
      return acquiring;
    },
    token: () => token,
    async release() {
      if (token === 0 || clock.now() >= heldUntil) return;
      heldUntil = -Infinity;
      await lease.release(token);
    },
    currentHolder: () => lease.holder(),
  };
}
