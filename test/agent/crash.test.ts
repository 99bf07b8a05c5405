// kill -9 at every step boundary of an update and during chunk writes: on restart the agent must
// serve the old or the new bundle, fully verified (it re-verifies from the store before loading),
// never a mix, and then converge to the new one. Real child processes, a real broker.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { agentConfig, waitFor } from '../../harness/agent/agent-env.js';
import { startFakeController } from '../../harness/agent/fake-controller.js';
import { exited, serving, spawnAgent } from '../../harness/agent/processes.js';
import type { AgentChild as Child } from '../../harness/agent/processes.js';
import { makeAssignment, makeBundle, testKeys } from '../../harness/agent/trust.js';
import type { TestBundle } from '../../harness/agent/trust.js';

interface StateFile {
  active: { A?: string };
}
const readState = async (stateDir: string): Promise<StateFile> =>
  JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8')) as StateFile;

// Where to kill: a line the agent prints (step boundaries), or 'chunks' (mid-transfer).
const KILL_POINTS = [
  'step fetch start',
  'chunks',
  'step fetch done',
  'step verify done',
  'step stage done',
  'step load done',
  'step gate done',
  'step activate start',
  'step activate done',
];

t.test('kill -9 at every step boundary and during chunk writes', async (t) => {
  const keys = testKeys();
  let killAtChunks: (() => void) | undefined;
  const controller = await startFakeController({
    chunkSize: 400,
    onChunkRequest: () => {
      const kill = killAtChunks;
      killAtChunks = undefined;
      kill?.();
    },
  });
  t.teardown(() => controller.close());
  const config = await agentConfig(keys, controller.url, 'dev-crash', {
    fetch: { maxInFlight: 2, requestTimeoutMs: 300 },
  });
  const configPath = join(config.stateDir, '..', 'agent.json');
  await writeFile(configPath, JSON.stringify(config));
  const publish = async (sequence: number, bundle: TestBundle) => {
    for (const [d, bytes] of bundle.blobs) controller.blobs.set(d, bytes);
    await controller.assign(
      'dev-crash',
      makeAssignment(keys, 'dev-crash', sequence, [{ name: 'A', bundle, weight: 1 }]),
    );
  };

  // Start serving a first bundle.
  let current = makeBundle(keys, 'tiny-a', { sequence: 1, variant: 1 });
  await publish(1, current);
  // A wait that fails says what the agent last printed (its step lines), to tell a stuck
  // agent from a slow one.
  const until = (what: string, cond: () => boolean | Promise<boolean>, ms = 60_000) =>
    waitFor(what, cond, ms).catch((e: Error) => {
      throw new Error(
        `${e.message}; the agent's last lines:\n${child.lines.slice(-30).join('\n')}`,
      );
    });
  let child = spawnAgent(t, configPath, () => undefined);
  await until('first bundle served', async () => (await serving(child)) === current.digest, 60_000);
  child.proc.kill('SIGKILL');
  await exited(child);

  let sequence = 1;
  for (const point of KILL_POINTS) {
    sequence += 1;
    const next = makeBundle(keys, sequence % 2 ? 'tiny-a' : 'tiny-b', {
      sequence,
      variant: sequence,
    });
    let killed = false;
    let armed = false; // only once the new assignment is out (a restart may redo old steps)
    const kill = (c: Child) => {
      if (killed || !armed) return;
      killed = true;
      c.proc.kill('SIGKILL');
    };
    child = spawnAgent(t, configPath, (line, c) => {
      if (point !== 'chunks' && line.startsWith(point) && c.api) kill(c);
    });
    await until(
      `restart before ${point}`,
      async () => (await serving(child)) === current.digest,
      60_000,
    );
    // Serving comes before the state file names the bundle (the agent loads, then records), so
    // wait for the record rather than read it once; it names exactly the served bundle.
    await until(
      `state names the served bundle before ${point}`,
      async () => (await readState(config.stateDir)).active.A === current.digest,
      60_000,
    );
    t.equal(
      (await readState(config.stateDir)).active.A,
      current.digest,
      `recorded before ${point}`,
    );
    armed = true;
    if (point === 'chunks') killAtChunks = () => kill(child);
    await publish(sequence, next);
    await until(`kill at ${point}`, () => killed, 60_000);
    await exited(child);

    // Restart: the old or the new bundle, verified, never a mix or nothing.
    child = spawnAgent(t, configPath, () => undefined);
    await until(
      `serving after kill at ${point}`,
      async () => (await serving(child)) !== undefined,
      60_000,
    );
    const after = await serving(child);
    t.ok(
      after === current.digest || after === next.digest,
      `after kill at "${point}": old or new (${after === next.digest ? 'new' : 'old'})`,
    );
    const state = await readState(config.stateDir);
    t.ok(
      state.active.A === current.digest || state.active.A === next.digest,
      `state names old or new at "${point}"`,
    );
    await until(
      `converges after kill at ${point}`,
      async () => (await serving(child)) === next.digest,
      60_000,
    );
    child.proc.kill('SIGKILL');
    await exited(child);
    current = next;
  }
});
