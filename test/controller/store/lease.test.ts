// Controller replicas on one PostgreSQL advance rollouts under one lease: a replica acts only
// with the lease's current fencing token, and a write made with a token that has been
// superseded is refused (BMF_ERR_LEASE_LOST) with nothing written.
import t from 'tap';
import type { RolloutSpec, RolloutState } from '../../../controller/rollout/model.js';
import { createPgLease, type PgLease } from '../../../controller/store/postgres/lease.js';
import { openPostgresStore, type PgStore } from '../../../controller/store/postgres/open.js';
import { pgRollouts } from '../../../controller/store/postgres/repos.js';
import { postgresSkip, startPostgres } from '../../../harness/postgres.js';
import { waitFor } from '../../../harness/wait.js';

const skip = postgresSkip();

interface Replica {
  readonly name: string;
  readonly store: PgStore;
  readonly lease: (ttlMs: number) => PgLease;
}

const state = (steps: number) =>
  ({ status: 'running', updatedAt: steps, steps }) as unknown as RolloutState;

/** One step of the rollout, as the executor takes it: read, decide, save under the lease. */
async function act(r: Replica, lease: PgLease, token: number): Promise<void> {
  const rollouts = pgRollouts(r.store, { lease, token: () => token });
  const cur = (await rollouts.require('r1')).state as unknown as { steps: number };
  await rollouts.save('r1', state(cur.steps + 1), [
    { type: 'group_started', message: `${r.name}:${token}` },
  ]);
}

t.test('two controllers on one PostgreSQL', skip ? { skip } : {}, async (t) => {
  const pg = await startPostgres(t);
  const url = await pg.newDatabase();
  const replicas: Replica[] = [];
  for (const name of ['ctl-a', 'ctl-b']) {
    const store = await openPostgresStore(url, { max: 3 });
    t.teardown(() => store.close());
    replicas.push({
      name,
      store,
      lease: (ttlMs) => createPgLease(store, { name: 'rollouts', holder: name, ttlMs }),
    });
  }
  const [a, b] = replicas as [Replica, Replica];
  await pgRollouts(a.store).create({ id: 'r1' } as unknown as RolloutSpec, state(0), 0);
  const log = async () => (await pgRollouts(a.store).events('r1', 0, 10_000)).map((e) => e.message);

  await t.test('one holder at a time; a lost lease writes nothing', async (t) => {
    const tokenA = await a.lease(60_000).acquire();
    t.equal(tokenA, 1, 'the first holder gets token 1');
    t.equal(await b.lease(60_000).acquire(), undefined, 'held: the other replica gets nothing');
    t.equal(await a.lease(60_000).acquire(), tokenA, 'renewal keeps the token');
    await act(a, a.lease(60_000), tokenA!);
    await act(a, a.lease(60_000), tokenA!);

    // ctl-a stops renewing (its renewal shortens the lease to 1 ms, as a stalled replica's
    // lease runs out); ctl-b takes over once it has expired.
    await a.lease(1).acquire();
    let tokenB: number | undefined;
    await waitFor('ctl-b to take the lease', async () => {
      tokenB = await b.lease(60_000).acquire();
      return tokenB !== undefined;
    });
    t.equal(tokenB, 2, 'a takeover increments the token');
    await act(b, b.lease(60_000), tokenB!);

    // ctl-a wakes up and acts on what it last knew.
    await t.rejects(act(a, a.lease(60_000), tokenA!), { code: 'BMF_ERR_LEASE_LOST' });
    t.equal(await a.lease(60_000).acquire(), undefined, 'and cannot take it back while held');
    t.same(await log(), ['ctl-a:1', 'ctl-a:1', 'ctl-b:2'], 'nothing from the stale holder');
    const steps = ((await pgRollouts(a.store).require('r1')).state as unknown as { steps: number })
      .steps;
    t.equal(steps, 3, 'every step taken once');
    await b.lease(60_000).release(tokenB!);
  });

  await t.test('racing replicas never both act', async (t) => {
    const before = (await log()).length;
    const acted = new Map<string, number>();
    // Each replica loops: take the lease if it can, act, and now and then give it up so the
    // other one takes over; a write with a token that was superseded meanwhile is refused.
    const refused: string[] = [];
    async function loop(r: Replica): Promise<void> {
      const lease = r.lease(60_000);
      for (let i = 0; i < 40; i++) {
        const token = await lease.acquire();
        if (token === undefined) {
          await new Promise((res) => setImmediate(res));
          continue;
        }
        try {
          await act(r, lease, token);
          acted.set(r.name, (acted.get(r.name) ?? 0) + 1);
        } catch (e) {
          if ((e as { code?: string }).code !== 'BMF_ERR_LEASE_LOST') throw e;
          refused.push(r.name);
        }
        if (i % 3 === 2) await lease.release(token);
      }
    }
    await Promise.all([loop(a), loop(b)]);
    const entries = (await log()).slice(before).map((m) => {
      const [holder, token] = m.split(':');
      return { holder: holder as string, token: Number(token) };
    });
    t.ok(entries.length > 0, 'someone acted');
    const holderOf = new Map<number, string>();
    let last = 0;
    for (const e of entries) {
      t.ok(e.token >= last, `token ${e.token} after ${last}: no write from an older holder`);
      last = e.token;
      const h = holderOf.get(e.token) ?? e.holder;
      t.equal(h, e.holder, `token ${e.token} belongs to one replica`);
      holderOf.set(e.token, h);
    }
    const steps = ((await pgRollouts(a.store).require('r1')).state as unknown as { steps: number })
      .steps;
    t.equal(steps, 3 + entries.length, 'each logged action advanced the rollout exactly once');
    t.comment(
      `actions ${JSON.stringify(Object.fromEntries(acted))}, tokens ${holderOf.size}, refused ${refused.length}`,
    );
  });
});
