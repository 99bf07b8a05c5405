// "degraded" is a condition, not a memory: a refused bundle makes the device report it, and a
// later assignment that is served in full clears it. Real broker, in-process agent.
import t from 'tap';
import { createAgent } from '../../agent/agent.js';
import { agentConfig, waitFor } from '../../harness/agent/agent-env.js';
import { startFakeController } from '../../harness/agent/fake-controller.js';
import { makeAssignment, makeBundle, testKeys } from '../../harness/agent/trust.js';

t.test('degraded clears once a later assignment is served in full', async (t) => {
  const keys = testKeys();
  const controller = await startFakeController({ chunkSize: 4096 });
  t.teardown(() => controller.close());
  const a = makeBundle(keys, 'tiny-a', { sequence: 1, variant: 1 });
  // Signed by a key the root does not give the bundle role: refused at verify.
  const rogue = makeBundle(keys, 'tiny-b', { sequence: 2, variant: 2, signer: keys.assignment });
  const b = makeBundle(keys, 'tiny-b', { sequence: 3, variant: 3 });
  const c = makeBundle(keys, 'tiny-a', { sequence: 4, variant: 4 });
  for (const bundle of [a, rogue, b, c])
    for (const [d, bytes] of bundle.blobs) controller.blobs.set(d, bytes);
  const config = await agentConfig(keys, controller.url, 'dev-degraded');
  const agent = createAgent(config);
  t.teardown(() => agent.stop());
  await agent.start();
  const serving = () => agent.service.models()[0]?.bundleDigest;
  const assign = (sequence: number, bundle: typeof a) =>
    controller.assign(
      'dev-degraded',
      makeAssignment(keys, 'dev-degraded', sequence, [{ name: 'A', bundle, weight: 1 }]),
    );

  await assign(1, a);
  await waitFor('a served', () => serving() === a.digest);
  await waitFor('active', () => controller.states.at(-1)?.status === 'active');

  await assign(2, rogue);
  await waitFor('rogue bundle refused', () =>
    controller.events.some((e) => e.code.startsWith('BMF_ERR_TRUST_')),
  );
  await waitFor('degraded', () => controller.states.at(-1)?.status === 'degraded');
  t.equal(serving(), a.digest, 'a still served');

  for (const [sequence, bundle] of [
    [3, b],
    [4, c],
  ] as const) {
    await assign(sequence, bundle);
    await waitFor(`assignment ${sequence} served`, () => serving() === bundle.digest);
    await waitFor(
      `active again after assignment ${sequence}`,
      () => controller.states.at(-1)?.status === 'active',
    );
    t.pass(`assignment ${sequence}: reported active`);
  }
});
