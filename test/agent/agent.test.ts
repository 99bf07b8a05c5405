// The agent end to end against a real embedded broker and a stand-in controller: fetch in
// chunks, verify, gate, hot-swap, refuse bad input, restart from the store.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { createAgent } from '../../agent/agent.js';
import { createSimSessionPool } from '../../agent/runtime/session-pool.js';
import { agentConfig, waitFor } from '../../harness/agent/agent-env.js';
import { startFakeController } from '../../harness/agent/fake-controller.js';
import { goldenInputs, sha256, tinyBmodel } from '../../harness/agent/models.js';
import { makeAssignment, makeBundle, testKeys } from '../../harness/agent/trust.js';

const golden = goldenInputs();

t.test(
  'agent: assignment -> chunked fetch -> verify -> gate -> serve; bad input refused',
  async (t) => {
    const keys = testKeys();
    const controller = await startFakeController({ chunkSize: 700 });
    t.teardown(() => controller.close());
    const a = makeBundle(keys, 'tiny-a', { sequence: 1 });
    const b = makeBundle(keys, 'tiny-b', { sequence: 2 });
    for (const bundle of [a, b])
      for (const [d, bytes] of bundle.blobs) controller.blobs.set(d, bytes);
    const config = await agentConfig(keys, controller.url, 'dev-1');
    const agent = createAgent(config);
    await agent.start();
    let stopped = false;
    t.teardown(async () => {
      if (!stopped) await agent.stop();
    });
    const serving = () => agent.service.models()[0]?.bundleDigest;

    await controller.assign(
      'dev-1',
      makeAssignment(keys, 'dev-1', 1, [{ name: 'A', bundle: a, weight: 1 }]),
    );
    await waitFor('bundle a active', () => serving() === a.digest);
    const r = await agent.service.infer({ kind: 'tensor', feeds: golden.inputs[0] ?? {} });
    t.equal(
      r.topK[0]?.label,
      ['zero', 'one', 'two', 'three'][golden.labels[0] ?? 0],
      'labels from the manifest',
    );
    const bmodelA = sha256(tinyBmodel('tiny-a'));
    t.ok(
      controller.chunkRequests.some((c) => c.digest === bmodelA && c.indices.length > 1),
      'several chunks in flight',
    );
    await waitFor('state persisted', async () => {
      const st = JSON.parse(await readFile(join(config.stateDir, 'state.json'), 'utf8')) as {
        installedSequence: number;
      };
      return st.installedSequence === 1;
    });

    // A tampered chunk is refused by its hash and fetched again; the swap still happens.
    const bmodelB = sha256(tinyBmodel('tiny-b'));
    controller.tamperOnce(bmodelB, 1);
    await controller.assign(
      'dev-1',
      makeAssignment(keys, 'dev-1', 2, [{ name: 'A', bundle: b, weight: 1 }]),
    );
    await waitFor('bundle b active', () => serving() === b.digest);
    await waitFor('chunk hash event', () =>
      controller.events.some((e) => e.code === 'BMF_ERR_AGENT_CHUNK_HASH'),
    );

    // Replayed older assignment, forged signature, wrong chip, failing gate: refused, b keeps serving.
    await controller.assign(
      'dev-1',
      makeAssignment(keys, 'dev-1', 1, [{ name: 'A', bundle: a, weight: 1 }]),
    );
    await waitFor('rollback event', () =>
      controller.events.some((e) => e.code === 'BMF_ERR_TRUST_ROLLBACK'),
    );
    const forged = makeAssignment(keys, 'dev-1', 9, [{ name: 'A', bundle: a, weight: 1 }], {
      signer: keys.bundle,
    });
    await controller.assign('dev-1', forged);
    await waitFor('unknown key event', () =>
      controller.events.some((e) => e.code === 'BMF_ERR_TRUST_UNKNOWN_KEY'),
    );
    const otherChip = makeBundle(keys, 'tiny-a', { sequence: 3, chips: ['bm1688'] });
    for (const [d, bytes] of otherChip.blobs) controller.blobs.set(d, bytes);
    await controller.assign(
      'dev-1',
      makeAssignment(keys, 'dev-1', 3, [{ name: 'A', bundle: otherChip, weight: 1 }]),
    );
    await waitFor('chip event', () =>
      controller.events.some((e) => e.code === 'BMF_ERR_TRUST_CHIP_MISMATCH'),
    );
    const bad = makeBundle(keys, 'tiny-bad', { sequence: 4 });
    for (const [d, bytes] of bad.blobs) controller.blobs.set(d, bytes);
    await controller.assign(
      'dev-1',
      makeAssignment(keys, 'dev-1', 4, [{ name: 'A', bundle: bad, weight: 1 }]),
    );
    await waitFor('gate event', () =>
      controller.events.some((e) => e.code === 'BMF_ERR_AGENT_GATE_FAILED'),
    );
    // Malformed protobuf on a control topic: typed event, nothing else changes.
    await controller.publishRaw('bmf/v1/d/dev-1/cmd', new Uint8Array([0xff, 0xff, 0xff, 0x01]));
    await waitFor('decode event', () =>
      controller.events.some((e) => e.code === 'BMF_ERR_WIRE_DECODE'),
    );
    t.equal(serving(), b.digest, 'the active model kept serving through every refusal');
    t.equal(agent.state().installedSequence, 2, 'stored state untouched by refused assignments');

    await waitFor('telemetry', () => controller.telemetry.length > 0);
    await agent.stop();
    stopped = true;

    // Restart from the same state directory: serves b again from the store, fetches nothing.
    const requestsBefore = controller.chunkRequests.length;
    const again = createAgent(config);
    await again.start();
    t.teardown(() => again.stop());
    t.equal(again.service.models()[0]?.bundleDigest, b.digest, 'serving right after start');
    t.equal(controller.chunkRequests.length, requestsBefore, 'no blob fetched again');
  },
);

t.test('two agents in one process: broadcast chunks, shared simulator sessions', async (t) => {
  const keys = testKeys();
  const controller = await startFakeController({ chunkSize: 500, broadcast: true });
  t.teardown(() => controller.close());
  const a = makeBundle(keys, 'tiny-a', { sequence: 1 });
  for (const [d, bytes] of a.blobs) controller.blobs.set(d, bytes);
  const pool = createSimSessionPool();
  const agents = await Promise.all(
    ['dev-x', 'dev-y'].map(async (id) =>
      createAgent(await agentConfig(keys, controller.url, id), { pool }),
    ),
  );
  for (const agent of agents) await agent.start();
  t.teardown(async () => {
    for (const agent of agents) await agent.stop();
  });
  for (const id of ['dev-x', 'dev-y']) {
    await controller.assign(id, makeAssignment(keys, id, 1, [{ name: 'A', bundle: a, weight: 1 }]));
  }
  await waitFor('both serving', () =>
    agents.every((x) => x.service.models()[0]?.bundleDigest === a.digest),
  );
  const bmodel = sha256(tinyBmodel('tiny-a'));
  t.equal(pool.snapshot().get(bmodel), 2, 'one onnxruntime session, two references');
});
