// The executor on both stores: SQLite (the embedded default) and PostgreSQL (a throwaway server,
// skipped with the reason where the binaries are absent). The same cases await every answer.
import t, { type Test } from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../controller/store/db.js';
import { createRolloutRepo, type RolloutRepo } from '../../../controller/store/rollouts.js';
import type { StoreMode } from '../../../controller/store/repository.js';
import { openPostgresStore } from '../../../controller/store/postgres/open.js';
import { pgRollouts } from '../../../controller/store/postgres/repos.js';
import { createRolloutExecutor, POKE_DELAY_MS } from '../../../controller/rollout/executor.js';
import type { DeviceObservation } from '../../../controller/rollout/model.js';
import { createManualClock, type ManualClock } from '../../../shared/clock.js';
import { waitFor } from '../../../harness/wait.js';
import { postgresSkip, startPostgres } from '../../../harness/postgres.js';
import type { Digest } from '../../../shared/ids.js';
import { BUNDLES, nameOf, twoGroupRollout } from '../../../harness/controller/rollout-spec.js';

const spec = twoGroupRollout('r-1', 60_000);

interface Opened {
  readonly rollouts: RolloutRepo<StoreMode>;
  close(): Promise<void> | void;
}
/** A place the rollouts are stored; open() twice reaches the same rows (a restart). */
type Backend = () => Promise<() => Promise<Opened>>;

async function harness(
  open: () => Promise<Opened>,
  active: Map<string, Digest>,
  clock: ManualClock,
) {
  const store = await open();
  const assigned: string[] = [];
  const executor = createRolloutExecutor({
    rollouts: store.rollouts,
    clock,
    observe: (ids) =>
      new Map<string, DeviceObservation>(
        ids.map((id) => [id, { online: true, activeBundle: active.get(id) ?? BUNDLES['b-old'] }]),
      ),
    assign: async (id, bundle, _reason, options) => {
      assigned.push(
        `${id}=${nameOf(bundle)}${options?.allowDowngrade ? ' (downgrade allowed)' : ''}`,
      );
    },
  });
  return { store, rollouts: store.rollouts, executor, assigned };
}

function cases(t: Test, backend: Backend) {
  t.test('rollout state survives a controller restart and resumes', async (t) => {
    const path = await backend();
    const active = new Map<string, Digest>();
    const clock = createManualClock(0, 1000);
    const first = await harness(path, active, clock);
    await first.executor.create(spec);
    t.same(first.assigned, ['d1=b-new']);
    active.set('d1', BUNDLES['b-new']);
    await clock.advance(1000);
    await first.executor.tick();
    // Group 2 starts in the same tick that saw group 1 succeed? No: next tick starts it.
    await first.executor.tick();
    t.same(first.assigned, ['d1=b-new', 'd2=b-new', 'd3=b-new']);
    await first.store.close(); // the "crash": nothing else is flushed

    const second = await harness(path, active, clock);
    const saved = (await second.rollouts.require('r-1')).state;
    t.equal(saved.group, 1);
    t.equal(saved.devices.d2?.status, 'assigned');
    await second.executor.resume();
    t.same(second.assigned, ['d2=b-new', 'd3=b-new'], 'assignments re-issued after restart');
    active.set('d2', BUNDLES['b-new']);
    active.set('d3', BUNDLES['b-new']);
    await clock.advance(1000);
    await second.executor.tick();
    t.equal((await second.rollouts.require('r-1')).state.status, 'completed');
    const events = (await second.rollouts.events('r-1')).map((e) => e.type);
    t.ok(events.includes('completed'));
    await t.rejects(second.executor.command('r-1', 'resume'), { code: 'BMF_ERR_ROLLOUT_STATE' });
    await t.rejects(second.executor.create({ ...spec, id: 'r-2', groups: [] }), {
      code: 'BMF_ERR_ROLLOUT_EMPTY',
    });
    await second.store.close();
  });

  t.test(
    'a poke ticks soon after a device report, once per burst; none before start',
    async (t) => {
      const path = await backend();
      const active = new Map<string, Digest>();
      const clock = createManualClock(0, 1000);
      const h = await harness(path, active, clock);
      t.teardown(() => h.store.close());
      await h.executor.create(spec);
      t.same(h.assigned, ['d1=b-new']);
      active.set('d1', BUNDLES['b-new']);
      h.executor.poke(); // not started: the interval is the only clock
      t.equal(clock.pendingSleeps(), 0, 'a poke before start() sets no timer');
      await clock.advance(3 * POKE_DELAY_MS);
      t.same(h.assigned, ['d1=b-new'], 'no tick before start()');
      // The default 1 s interval: within the test only pokes advance the rollout.
      h.executor.start();
      t.teardown(() => h.executor.stop());
      for (let i = 0; i < 20; i++) h.executor.poke(); // a burst of reports
      const group = async () => (await h.rollouts.require('r-1')).state.group;
      await clock.advance(POKE_DELAY_MS - 1);
      t.equal(await group(), 0, 'no tick before the poke delay');
      await clock.advance(1);
      await waitFor('the poke tick', async () => (await group()) === 1);
      // Any further tick of the burst would come within the poke delay: give it that chance, then
      // let every tick started finish (stop() waits for it).
      await clock.advance(3 * POKE_DELAY_MS);
      await h.executor.stop();
      // The group-1 success and the start of group 2 need two ticks: the burst gave one.
      t.equal(await group(), 1, 'one tick moved the rollout to group 2');
      t.same(h.assigned, ['d1=b-new'], 'the burst ran one tick, not twenty');
      h.executor.start();
      h.executor.poke();
      await clock.advance(POKE_DELAY_MS);
      await waitFor('group 2 assigned', () => h.assigned.length === 3);
      t.same(h.assigned, ['d1=b-new', 'd2=b-new', 'd3=b-new'], 'the next poke starts group 2');
    },
  );

  t.test('a rollout rollback assigns the previous bundle with downgrade allowed', async (t) => {
    const path = await backend();
    const active = new Map<string, Digest>();
    const clock = createManualClock(0, 1000);
    const h = await harness(path, active, clock);
    t.teardown(() => h.store.close());
    await h.executor.create({ ...spec, id: 'r-rb' });
    t.same(h.assigned, ['d1=b-new'], 'a start does not allow a downgrade');
    active.set('d1', BUNDLES['b-new']);
    await clock.advance(1000);
    await h.executor.tick();
    await h.executor.command('r-rb', 'rollback');
    t.ok(
      h.assigned.includes('d1=b-old (downgrade allowed)'),
      `rollback to the previous bundle allows the downgrade: ${h.assigned.join(', ')}`,
    );
  });

  t.test('a rollout created with allowDowngrade (a promotion back to A) carries it', async (t) => {
    const path = await backend();
    const h = await harness(path, new Map<string, Digest>(), createManualClock(0, 1000));
    t.teardown(() => h.store.close());
    await h.executor.create({ ...spec, id: 'r-down', allowDowngrade: true });
    t.same(h.assigned, ['d1=b-new (downgrade allowed)']);
  });
}

t.test('sqlite', async (t) => {
  cases(t, async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bmf-rollout-')), 'c.db');
    return async () => {
      const db = openDatabase(path);
      return {
        rollouts: createRolloutRepo(db),
        close: () => void db.close(),
      };
    };
  });
});

const skip = postgresSkip();
t.test('postgres', skip ? { skip } : {}, async (t) => {
  const server = await startPostgres(t);
  cases(t, async () => {
    const url = await server.newDatabase();
    return async () => {
      const store = await openPostgresStore(url, { max: 2 });
      return { rollouts: pgRollouts(store), close: () => store.close() };
    };
  });
});
