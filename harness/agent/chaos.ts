// Agent chaos: real agent processes killed with SIGKILL at seeded random moments of an update
// (fetch, verify, install, swap), during the restore after a restart (sometimes twice), and with
// assignments issued while the agent is down (sometimes two, the newer must win). After every
// restart it records what the agent serves first (an old verified bundle, a new one, or anything
// else: a model the run never published), then waits for the newest assignment to be
// served; one that never is within the bound is a lost assignment. Shared by
// test/chaos/agent-kill.test.ts (short round) and bench/chaos-agent.ts (long one).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentConfig, waitFor } from './agent-env.js';
import { startFakeController } from './fake-controller.js';
import { killHard, serving, spawnAgent } from './processes.js';
import type { AgentChild } from './processes.js';
import { makeAssignment, makeBundle, testKeys } from './trust.js';
import type { TestBundle } from './trust.js';
import { seededRandom } from '../../shared/stats/seeded-random.js';

export type KillMoment = 'fetch' | 'verify' | 'install' | 'swap' | 'restore' | 'down';
const MOMENTS: readonly KillMoment[] = ['fetch', 'verify', 'install', 'swap', 'restore', 'down'];
const LINES: Record<'fetch' | 'verify' | 'install' | 'swap', readonly string[]> = {
  fetch: ['step fetch start'],
  verify: ['step verify start'],
  install: ['step stage start', 'step load start', 'step gate start'],
  swap: ['step activate start'],
};

export interface ChaosResult {
  readonly seed: number;
  readonly trials: number;
  readonly kills: number;
  /** What each restart served first. */
  readonly served: { old: number; new: number; other: number };
  readonly lostAssignments: number;
  readonly byMoment: Record<KillMoment, number>;
}

export async function runAgentChaos(opts: {
  trials: number;
  seed: number;
  log?: (line: string) => void;
  /** How long the newest assignment may take to be served after the last restart. */
  convergeMs?: number;
}): Promise<ChaosResult> {
  const random = seededRandom(opts.seed);
  const log = opts.log ?? (() => undefined);
  const convergeMs = opts.convergeMs ?? 60_000;
  const keys = testKeys();
  const controller = await startFakeController({ chunkSize: 400 });
  const deviceId = 'dev-chaos';
  const config = await agentConfig(keys, controller.url, deviceId, {
    fetch: { maxInFlight: 2, requestTimeoutMs: 300 },
  });
  const configPath = join(config.stateDir, '..', 'agent.json');
  await writeFile(configPath, JSON.stringify(config));
  const bundles = new Map<string, number>();
  const bundle = (sequence: number): TestBundle => {
    const b = makeBundle(keys, sequence % 2 ? 'tiny-a' : 'tiny-b', { sequence, variant: sequence });
    bundles.set(b.digest, sequence);
    for (const [d, bytes] of b.blobs) controller.blobs.set(d, bytes);
    return b;
  };
  const publish = (b: TestBundle) =>
    controller.assign(
      deviceId,
      makeAssignment(keys, deviceId, b.sequence, [{ name: 'A', bundle: b, weight: 1 }]),
    );

  const served = { old: 0, new: 0, other: 0 };
  const byMoment = Object.fromEntries(MOMENTS.map((m) => [m, 0])) as Record<KillMoment, number>;
  let kills = 0;
  let lost = 0;
  let child: AgentChild | undefined;
  let hook: ((line: string) => void) | undefined;
  // Every agent started is ended when the run ends (a test's or the bench's), whatever happens.
  const cleanups: (() => Promise<void>)[] = [];
  const owner = { teardown: (fn: () => Promise<void>) => void cleanups.push(fn) };
  const start = (): AgentChild => spawnAgent(owner, configPath, (line) => hook?.(line));
  const kill = async (): Promise<void> => {
    if (!child) return;
    kills += 1;
    await killHard(child);
    child = undefined;
  };
  try {
    let sequence = 1;
    const current = bundle(sequence);
    await publish(current);
    child = start();
    const first = child;
    await waitFor(
      'first bundle served',
      async () => (await serving(first)) === current.digest,
      60_000,
    );

    for (let trial = 0; trial < opts.trials; trial++) {
      const moment = MOMENTS[Math.floor(random() * MOMENTS.length)] as KillMoment;
      byMoment[moment] += 1;
      const next = bundle(++sequence);
      let newest = next;
      if (moment === 'down' || moment === 'restore') {
        await kill();
        await publish(next);
        if (random() < 0.5) {
          // A second assignment while it is down: the newer one must win.
          newest = bundle(++sequence);
          await publish(newest);
        }
      } else {
        const running = child as AgentChild;
        const lines = LINES[moment];
        const delayMs = Math.floor(random() * 20);
        let fired = false;
        hook = (line) => {
          if (fired || !lines.some((l) => line.startsWith(l))) return;
          fired = true;
          setTimeout(() => running.proc.kill('SIGKILL'), delayMs);
        };
        await publish(next);
        // The moment may pass unseen (the step was quick); then the kill comes a little later.
        await waitFor(`kill at ${moment}`, () => fired, 20_000).catch(() => {
          fired = true;
          running.proc.kill('SIGKILL');
        });
        hook = undefined;
        await kill();
      }
      // Restart; a kill during the restore, sometimes a second one.
      const killsInRestart =
        moment === 'restore' ? (random() < 0.5 ? 2 : 1) : random() < 0.2 ? 1 : 0;
      for (let k = 0; k < killsInRestart; k++) {
        child = start();
        const starting = child;
        const afterMs = 200 + Math.floor(random() * 1500);
        await waitFor('agent up', () => starting.lines.length > 0, 60_000);
        await new Promise((r) => setTimeout(r, afterMs));
        await kill();
      }
      child = start();
      const restarted = child;
      let firstServed: string | undefined;
      await waitFor(
        `serving after the kill at ${moment}`,
        async () => (firstServed = await serving(restarted)) !== undefined,
        60_000,
      );
      // Old: a bundle verified and served before this trial (the one the trial started from, or
      // an earlier one when the kill came between a swap and its state write); new: one of this
      // trial's assignments; other: anything the run never published (unverified, corrupt).
      const firstSequence = bundles.get(firstServed ?? '');
      const kind =
        firstSequence === undefined ? 'other' : firstSequence >= next.sequence ? 'new' : 'old';
      served[kind] += 1;
      if (kind === 'other') {
        for (const l of restarted.lines.filter((x) => x.includes('BMF_ERR'))) log(`  ${l}`);
      }
      try {
        await waitFor(
          `newest assignment served after ${moment}`,
          async () => (await serving(restarted)) === newest.digest,
          convergeMs,
        );
      } catch {
        lost += 1;
      }
      log(
        `trial ${trial + 1}/${opts.trials}: kill at ${moment}, ${killsInRestart} more in restart; first served ${kind} (sequence ${bundles.get(firstServed ?? '') ?? '?'}), newest ${newest.sequence} ${lost ? `(lost so far ${lost})` : 'served'}`,
      );
    }
  } finally {
    if (child) await killHard(child);
    for (const end of cleanups.splice(0)) await end();
    await controller.close();
  }
  return { seed: opts.seed, trials: opts.trials, kills, served, lostAssignments: lost, byMoment };
}
