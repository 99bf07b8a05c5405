// Child processes in tests: each one leads its own process group (so what it starts dies with
// it), carries the test run's marker (run-marker.ts) and is ended when its test ends, passes,
// fails or times out: SIGTERM to the group, SIGKILL after a grace period, and SIGKILL at once if
// the test process itself exits first (tap's timeout ends it with a signal).
import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { Test } from 'tap';

export const TEST_RUN_ENV = 'BMFLEET_TEST_RUN';

const running = new Set<ChildProcess>();

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

process.once('exit', () => {
  for (const child of running) signalGroup(child, 'SIGKILL');
});

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves when the child has exited (at once if it has). */
export function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (hasExited(child) || child.pid === undefined) resolve();
    else child.once('exit', () => resolve());
  });
}

/**
 * Ends the child's whole process group: SIGTERM, then SIGKILL if it is still there after
 * `graceMs`. Also signals the group when the leader has exited (a grandchild may remain).
 */
export async function endProcess(child: ChildProcess, graceMs = 5_000): Promise<void> {
  signalGroup(child, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    exitOf(child),
    new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
  ]);
  clearTimeout(timer);
  signalGroup(child, 'SIGKILL');
  await exitOf(child);
  running.delete(child);
}

/**
 * `spawn` for tests: own process group, the run marker in its environment, and ended (see
 * endProcess) in `t`'s teardown whatever the outcome.
 */
export function spawnForTest(
  t: Pick<Test, 'teardown'>,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  const child = spawn(command, args, {
    ...options,
    detached: true,
    env: {
      ...(options.env ?? process.env),
      [TEST_RUN_ENV]: process.env[TEST_RUN_ENV] ?? String(process.ppid),
    },
  });
  running.add(child);
  child.once('exit', () => {
    // The leader is gone; anything left in its group is ended by endProcess or the exit hook.
    if (child.pid !== undefined) signalGroup(child, 'SIGKILL');
    running.delete(child);
  });
  t.teardown(() => endProcess(child));
  return child;
}
