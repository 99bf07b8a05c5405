// Two controller replicas' rollout executors on one PostgreSQL: only the lease holder acts; when
// the holder stops without releasing (killed), the other takes over after the expiry and the
// rollout continues, each rollout step taken once; a stalled former holder writes nothing.
import t from 'tap';
import { createRolloutExecutor } from '../../../controller/rollout/executor.js';
import type { DeviceObservation } from '../../../controller/rollout/model.js';
import { leaseLeadership, type Leadership } from '../../../controller/store/leadership.js';
import { createPgLease } from '../../../controller/store/postgres/lease.js';
import { openPostgresStore } from '../../../controller/store/postgres/open.js';
import { pgRollouts } from '../../../controller/store/postgres/repos.js';
import { createManualClock, createSystemClock } from '../../../shared/clock.js';
import { postgresSkip, startPostgres } from '../../../harness/postgres.js';
import { waitFor } from '../../../harness/wait.js';
import type { Digest } from '../../../shared/ids.js';
import { BUNDLES, nameOf, twoGroupRollout } from '../../../harness/controller/rollout-spec.js';

const spec = twoGroupRollout('r-lease', 600_000);

/** Real time: the lease expires on the database's clock. */
const TTL_MS = 1500;

const skip = postgresSkip();
t.test('two executors on one PostgreSQL', skip ? { skip } : {}, async (t) => {
  const server = await startPostgres(t);
  const url = await server.newDatabase();
  const active = new Map<string, Digest>();
  // The rollout's own time (deadlines, rate) is a manual clock; the lease runs on real time.
  const rolloutClock = createManualClock(0, 1_000_000);
  const assigned: string[] = [];
  async function replica(name: string, leadershipOf?: (l: Leadership) => Leadership) {
    const store = await openPostgresStore(url, { max: 2 });
    t.teardown(() => store.close());
    const lease = createPgLease(store, { name: 'controller', holder: name, ttlMs: TTL_MS });
    const real = leaseLeadership(lease, {
      holder: name,
      ttlMs: TTL_MS,
      clock: createSystemClock(),
    });
    const leadership = leadershipOf ? leadershipOf(real) : real;
    const rollouts = pgRollouts(store, { lease, token: () => leadership.token() });
    const executor = createRolloutExecutor({
      rollouts,
      leadership,
      clock: rolloutClock,
      observe: (ids) =>
        new Map<string, DeviceObservation>(
          ids.map((id) => [id, { online: true, activeBundle: active.get(id) ?? BUNDLES['b-old'] }]),
        ),
      assign: async (id, bundle) => {
        assigned.push(`${name}:${id}=${nameOf(bundle)}`);
      },
    });
    return { name, executor, rollouts, leadership };
  }
  const a = await replica('ctl-a');
  // ctl-b's leadership is watched: it stays out until ctl-a's lease has expired.
  const b = await replica('ctl-b');

  await a.executor.create(spec);
  t.same(assigned, ['ctl-a:d1=b-new'], 'the first replica took the lease and started group 1');
  const refusal = await b.executor.create({ ...spec, id: 'r-other' }).then(
    () => undefined,
    (e: unknown) => e as { code?: string; details?: Record<string, unknown>; message?: string },
  );
  t.equal(refusal?.code, 'BMF_ERR_NOT_LEASE_HOLDER', 'the other replica does not act');
  // The refusal names the replica to retry on (the holder), and the one that refused.
  t.equal(refusal?.details?.holder, 'ctl-a', `it names the holder: ${refusal?.message}`);
  t.equal(refusal?.details?.replica, 'ctl-b', 'and the replica that refused');
  await b.executor.tick();
  t.same(assigned, ['ctl-a:d1=b-new'], "the other replica's tick does nothing");

  // ctl-a is killed: it stops without releasing. Group 1 finishes meanwhile.
  active.set('d1', BUNDLES['b-new']);
  const killedAt = Date.now();
  await waitFor(
    'ctl-b to take over after the expiry',
    async () => {
      await b.executor.tick();
      return assigned.some((x) => x.startsWith('ctl-b:'));
    },
    30_000,
  );
  t.ok(Date.now() - killedAt >= TTL_MS / 2, 'not before the lease could have expired');
  t.equal(b.leadership.token(), 2, 'the takeover has the next fencing token');
  // One more tick starts group 2 (group 1's success is one tick, the next group the next).
  await b.executor.tick();
  t.ok(
    assigned.includes('ctl-b:d2=b-new') && assigned.includes('ctl-b:d3=b-new'),
    `ctl-b continued the rollout: ${assigned.join(', ')}`,
  );
  active.set('d2', BUNDLES['b-new']);
  active.set('d3', BUNDLES['b-new']);
  await b.executor.tick();
  t.equal((await b.rollouts.require(spec.id)).state.status, 'completed', 'the rollout completes');

  // ctl-a wakes up believing it still holds the lease with its old token: its save is refused
  // by the fence and it acts on nothing.
  const before = assigned.length;
  const stale = await replica('ctl-a', (real) => ({
    ...real,
    hold: async () => true,
    token: () => 1,
  }));
  await t.rejects(stale.executor.create({ ...spec, id: 'r-stale' }), {
    code: 'BMF_ERR_LEASE_LOST',
  });
  t.equal(assigned.length, before, 'the stale holder assigned nothing');
  t.equal(await b.rollouts.get('r-stale'), undefined, 'and wrote nothing');

  const events = (await b.rollouts.events(spec.id)).map((e) => e.type);
  // The planner's events of a two-group rollout, each once: nothing was done by both replicas.
  t.same(events, ['group_started', 'group_succeeded', 'group_succeeded', 'completed']);
});
