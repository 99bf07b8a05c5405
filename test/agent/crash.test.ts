// kill -9 at every step boundary of an update and during chunk writes: on restart the agent must
// serve the old or the new bundle, fully verified (it re-verifies from the store before loading),
// never a mix, and then converge to the new one. Real child processes, a real broker.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { agentConfig, waitFor } from './helpers/agent-env.js';
import { startFakeController } from './helpers/fake-controller.js';
import { exited, serving, spawnAgent } from './helpers/processes.js';
import type { AgentChild as Child } from './helpers/processes.js';
import { makeAssignment, makeBundle, testKeys } from './helpers/trust.js';
import type { TestBundle } from './helpers/trust.js';

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
  let child = spawnAgent(configPath, () => undefined);
  await waitFor(
    'first bundle served',
    async () => (await serving(child)) === current.digest,
    60_000,
  );
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
    child = spawnAgent(configPath, (line, c) => {
      if (point !== 'chunks' && line.startsWith(point) && c.api) kill(c);
    });
    await waitFor(
      `restart before ${point}`,
      async () => (await serving(child)) === current.digest,
      60_000,
    );
    const stateNow = JSON.parse(await readFile(join(config.stateDir, 'state.json'), 'utf8')) as {
      active: { A?: string };
    };
    await waitFor(`state settled before ${point}`, async () => {
      const st = JSON.parse(await readFile(join(config.stateDir, 'state.json'), 'utf8')) as {
        active: { A?: string };
      };
      return st.active.A === current.digest;
    });
    t.ok(stateNow.active.A !== undefined);
    armed = true;
    if (point === 'chunks') killAtChunks = () => kill(child);
    await publish(sequence, next);
    await waitFor(`kill at ${point}`, () => killed, 60_000);
    await exited(child);

    // Restart: the old or the new bundle, verified, never a mix or nothing.
    child = spawnAgent(configPath, () => undefined);
    await waitFor(
      `serving after kill at ${point}`,
      async () => (await serving(child)) !== undefined,
      60_000,
    );
    const after = await serving(child);
    t.ok(
      after === current.digest || after === next.digest,
      `after kill at "${point}": old or new (${after === next.digest ? 'new' : 'old'})`,
    );
    const state = JSON.parse(await readFile(join(config.stateDir, 'state.json'), 'utf8')) as {
      active: { A?: string };
    };
    t.ok(
      state.active.A === current.digest || state.active.A === next.digest,
      `state names old or new at "${point}"`,
    );
    await waitFor(
      `converges after kill at ${point}`,
      async () => (await serving(child)) === next.digest,
      60_000,
    );
    child.proc.kill('SIGKILL');
    await exited(child);
    current = next;
  }
});
