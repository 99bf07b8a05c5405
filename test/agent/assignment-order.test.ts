// Assignments are never lost across a restart: one that arrives while the agent restores wins
// over the restored (older) one, one issued while the agent was down reaches it even when only the
// broker's retained copy holds it, and the broker hears "received" only once it is on disk.
// Real broker, real files; the simulated TPU is held at load so "during restore" is a fact.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { createAgent } from '../../agent/agent.js';
import type { Agent } from '../../agent/agent.js';
import { createSimSessionPool } from '../../agent/runtime/session-pool.js';
import type { SimSessionPool } from '../../agent/runtime/session-pool.js';
import { sha256Hex } from '../../agent/store/blob-store.js';
import { canonicalBytes } from '../../shared/bundle/canonical.js';
import { agentConfig, waitFor } from '../../harness/agent/agent-env.js';
import { startFakeController } from '../../harness/agent/fake-controller.js';
import type { FakeController } from '../../harness/agent/fake-controller.js';
import { makeAssignment, makeBundle, testKeys } from '../../harness/agent/trust.js';
import type { TestBundle, TestKeys } from '../../harness/agent/trust.js';

interface StateJson {
  assignment?: string;
  assignmentSequence?: number;
  installedSequence: number;
}

const stateOf = async (dir: string): Promise<StateJson> =>
  JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as StateJson;

const assignmentDigest = (bytes: Uint8Array): string =>
  sha256Hex(canonicalBytes(JSON.parse(new TextDecoder().decode(bytes))));

/** A simulated TPU whose model loads wait until `open()`: the agent's restore is held there. */
function heldPool(): { pool: SimSessionPool; open(): void; waiting(): number } {
  const inner = createSimSessionPool();
  let opened = false;
  let queue: (() => void)[] = [];
  return {
    pool: {
      ...inner,
      async acquire(digest, onnx) {
        if (!opened) await new Promise<void>((r) => queue.push(r));
        return inner.acquire(digest, onnx);
      },
    },
    open() {
      opened = true;
      const q = queue;
      queue = [];
      for (const r of q) r();
    },
    waiting: () => queue.length,
  };
}

async function setup(t: Test, deviceId: string) {
  const keys = testKeys();
  const controller = await startFakeController({ chunkSize: 4096 });
  t.teardown(() => controller.close());
  const a = makeBundle(keys, 'tiny-a', { sequence: 1, variant: 1 });
  const b = makeBundle(keys, 'tiny-b', { sequence: 2, variant: 2 });
  for (const bundle of [a, b])
    for (const [d, bytes] of bundle.blobs) controller.blobs.set(d, bytes);
  const config = await agentConfig(keys, controller.url, deviceId);
  const running = new Set<Agent>();
  t.teardown(async () => {
    for (const agent of running) await agent.stop();
  });
  const start = async (pool?: SimSessionPool): Promise<Agent> => {
    const agent = createAgent(config, pool ? { pool } : {});
    running.add(agent);
    await agent.start();
    return agent;
  };
  const startHeld = (pool: SimSessionPool): { agent: Agent; started: Promise<void> } => {
    const agent = createAgent(config, { pool });
    running.add(agent);
    return { agent, started: agent.start() };
  };
  const stop = async (agent: Agent): Promise<void> => {
    running.delete(agent);
    await agent.stop();
  };
  return { keys, controller, a, b, config, start, startHeld, stop };
}

const serving = (agent: Agent): string | undefined => agent.service.models()[0]?.bundleDigest;

function assign(
  keys: TestKeys,
  controller: FakeController,
  deviceId: string,
  sequence: number,
  bundle: TestBundle,
  qos: 0 | 1 = 1,
): Promise<void> {
  return controller.assign(
    deviceId,
    makeAssignment(keys, deviceId, sequence, [{ name: 'A', bundle, weight: 1 }]),
    { qos },
  );
}

t.test('an assignment that arrives during the restore wins over the restored one', async (t) => {
  const s = await setup(t, 'dev-order-1');
  await assign(s.keys, s.controller, 'dev-order-1', 1, s.a);
  const first = await s.start();
  await waitFor('bundle a served', () => serving(first) === s.a.digest);
  await waitFor(
    'assignment 1 persisted',
    async () => (await stateOf(s.config.stateDir)).installedSequence === 1,
  );
  await s.stop(first);

  // Issued while the agent is down; delivered as soon as it reconnects, while its restore is
  // still loading bundle a (held at the simulated TPU).
  const second = makeAssignment(s.keys, 'dev-order-1', 2, [{ name: 'A', bundle: s.b, weight: 1 }]);
  await s.controller.assign('dev-order-1', second);
  const held = heldPool();
  const { agent, started } = s.startHeld(held.pool);
  await waitFor('restore waits at the TPU', () => held.waiting() > 0);
  await waitFor(
    'assignment 2 persisted during the restore',
    async () => (await stateOf(s.config.stateDir)).assignment === assignmentDigest(second),
  );
  held.open();
  await started;
  await waitFor(
    'bundle b served (the newest assignment)',
    () => serving(agent) === s.b.digest,
    30_000,
  );
  t.equal((await stateOf(s.config.stateDir)).assignmentSequence, 2, 'state names assignment 2');
  await waitFor(
    'assignment 2 installed',
    async () => (await stateOf(s.config.stateDir)).installedSequence === 2,
  );
});

t.test('an assignment held only by the retained copy reaches a restarted agent', async (t) => {
  const s = await setup(t, 'dev-order-2');
  await assign(s.keys, s.controller, 'dev-order-2', 1, s.a);
  const first = await s.start();
  await waitFor('bundle a served', () => serving(first) === s.a.digest);
  await s.stop(first);
  // QoS 0 retained: the broker keeps it as the topic's retained message and queues nothing (as
  // after a crash that acknowledged and then lost one; the agent's clean session queues nothing
  // anyway).
  await assign(s.keys, s.controller, 'dev-order-2', 2, s.b, 0);
  const agent = await s.start();
  await waitFor('bundle b served', () => serving(agent) === s.b.digest, 30_000);
  t.equal((await stateOf(s.config.stateDir)).assignmentSequence, 2);
});

t.test('the broker hears an assignment was received only once it is on disk', async (t) => {
  const s = await setup(t, 'dev-order-3');
  const bytes = makeAssignment(s.keys, 'dev-order-3', 1, [{ name: 'A', bundle: s.a, weight: 1 }]);
  const seen: StateJson[] = [];
  // Nothing else is delivered to the device at QoS 1 before its first assignment.
  s.controller.onDeviceAck((clientId) => {
    if (clientId !== 'dev-order-3') return;
    // Synchronously, at the moment the PUBACK is processed.
    let st: StateJson = { installedSequence: 0 };
    try {
      st = JSON.parse(readFileSync(join(s.config.stateDir, 'state.json'), 'utf8')) as StateJson;
    } catch {
      // no state file yet: nothing persisted
    }
    seen.push(st);
  });
  const agent = await s.start();
  await s.controller.assign('dev-order-3', bytes);
  await waitFor('acknowledged', () => seen.length > 0);
  t.equal(seen[0]?.assignment, assignmentDigest(bytes), 'state.json names it at the PUBACK');
  t.equal(seen[0]?.assignmentSequence, 1);
  await waitFor('bundle a served', () => serving(agent) === s.a.digest);
});
