import t from 'tap';
import { createManualClock } from '../../../agent/clock.js';
import { backoffDelay } from '../../../agent/sync/backoff.js';
import type { Facts, Step, Target } from '../../../agent/sync/plan.js';
import { reconcileLoop, reconcileOnce } from '../../../agent/sync/reconcile.js';
import type { Executors } from '../../../agent/sync/reconcile.js';
import { parseDigest, type Digest } from '../../../shared/ids.js';

const BUNDLE = parseDigest('b'.repeat(64));
const FILE = parseDigest('f'.repeat(64));
const target: Target = {
  sequence: 2,
  variants: [{ name: 'A', bundleDigest: BUNDLE, files: [{ digest: FILE, size: 3 }] }],
};

/** The agent's facts as plain mutable sets; executors change them as the real ones change disk and slots. */
function world() {
  const w = {
    installedSequence: 1,
    blobs: new Set<Digest>(),
    verified: new Set<Digest>(),
    staged: new Set<Digest>(),
    candidates: {} as Facts['candidates'],
    active: {} as Record<string, Digest>,
    lastKnownGood: {},
    rejected: new Set<Digest>(),
    regressed: new Set<'A' | 'B'>(),
    restoring: {} as Record<string, Digest[]>,
  };
  /** Bundles a restore cannot install (their files went bad while the agent was down). */
  const unrestorable = new Set<Digest>();
  const log: Step['kind'][] = [];
  let failFetchOnce = true;
  const executors: Executors = {
    fetch: async (s) => {
      log.push(s.kind);
      if (s.digest === FILE && failFetchOnce) {
        failFetchOnce = false;
        throw new Error('broker went away');
      }
      w.blobs.add(s.digest);
    },
    verify: async (s) => void (log.push(s.kind), w.verified.add(s.bundleDigest)),
    stage: async (s) => void (log.push(s.kind), w.staged.add(s.bundleDigest)),
    load: async (s) =>
      void (
        log.push(s.kind),
        (w.candidates = { [s.variant]: { bundleDigest: s.bundleDigest, gated: false } })
      ),
    gate: async (s) =>
      void (
        log.push(s.kind),
        (w.candidates = { [s.variant]: { bundleDigest: s.bundleDigest, gated: true } })
      ),
    activate: async (s) => {
      log.push(s.kind);
      w.active[s.variant] = s.bundleDigest;
      w.installedSequence = s.sequence;
      w.candidates = {};
    },
    unload: async (s) => void (log.push(s.kind), delete w.active[s.variant]),
    rollback: async (s) => void (log.push(s.kind), (w.active[s.variant] = s.to)),
    // As SyncContext's: a failed bundle leaves the line, an installed one ends the variant's.
    restore: async (s) => {
      log.push(s.kind);
      const left = (w.restoring[s.variant] ?? []).filter((d) => d !== s.bundleDigest);
      if (unrestorable.has(s.bundleDigest)) w.restoring[s.variant] = left;
      else {
        delete w.restoring[s.variant];
        w.active[s.variant] = s.bundleDigest;
      }
    },
  };
  return {
    w,
    log,
    executors,
    unrestorable,
    gatherFacts: async (): Promise<Facts> => ({
      ...w,
      restoring: Object.fromEntries(Object.entries(w.restoring).map(([v, l]) => [v, [...l]])),
    }),
  };
}

t.test('a failed step backs off on the injected clock, then the loop converges', async (t) => {
  const { w, log, executors, gatherFacts } = world();
  const clock = createManualClock();
  const errors: string[] = [];
  const stop = new AbortController();
  let woke = 0;
  const loop = reconcileLoop(
    {
      gatherFacts,
      target: () => target,
      executors,
      clock,
      random: () => 0.5,
      backoff: { baseMs: 1000, capMs: 8000 },
      onError: (step, e) => errors.push(`${step.kind}: ${e.message}`),
    },
    async () => {
      woke += 1;
      stop.abort();
    },
    stop.signal,
  );
  while (clock.pendingSleeps() === 0) await new Promise((r) => setImmediate(r));
  t.same(errors, ['fetch: internal error: broker went away']);
  t.equal(w.active.A, undefined, 'nothing activated before the files are there');
  await clock.advance(499);
  t.equal(clock.pendingSleeps(), 1, 'still backing off (0.5 x 1000 ms)');
  await clock.advance(1);
  await loop;
  t.equal(woke, 1);
  t.equal(w.active.A, BUNDLE);
  t.equal(w.installedSequence, 2);
  t.same(log, ['fetch', 'verify', 'fetch', 'fetch', 'stage', 'load', 'gate', 'activate']);
  t.equal(
    await reconcileOnce(
      { gatherFacts, target: () => target, executors, clock },
      new AbortController().signal,
    ),
    0,
    'converged: nothing left',
  );
});

t.test('backoff grows exponentially up to the cap, scaled by jitter', async (t) => {
  const p = { baseMs: 100, capMs: 1000 };
  t.same(
    [0, 1, 2, 3, 4, 10].map((a) => backoffDelay(p, a, 0.999999)),
    [99, 199, 399, 799, 999, 999],
  );
  t.equal(backoffDelay(p, 5, 0), 0);
});

t.test('a restart restores through the planner before it works on the target', async (t) => {
  const { w, log, executors, unrestorable, gatherFacts } = world();
  const OLD = parseDigest('c'.repeat(64));
  const GOOD = parseDigest('d'.repeat(64));
  w.restoring = { A: [OLD, GOOD] };
  unrestorable.add(OLD);
  const clock = createManualClock();
  const signal = new AbortController().signal;
  // The agent's start-up pass: no target yet, only the restore facts to plan from.
  await reconcileOnce({ gatherFacts, target: () => undefined, executors, clock }, signal);
  t.same(log, ['restore', 'restore'], 'the served bundle first, then its last-known-good');
  t.equal(w.active.A, GOOD, 'the last-known-good serves');
  t.same(w.restoring, {}, 'nothing left to restore');
  log.length = 0;
  w.blobs.add(BUNDLE).add(FILE);
  await reconcileOnce({ gatherFacts, target: () => target, executors, clock }, signal);
  t.same(log, ['verify', 'stage', 'load', 'gate', 'activate'], 'then the target, as usual');
  t.equal(w.active.A, BUNDLE);
});
