// A new assignment interrupts a fetch that stalls on the bundle it abandons: the agent moves on
// to the new target at once instead of waiting out the stalled transfer's timeouts.
import t from 'tap';
import { createLogger } from '../../shared/log.js';
import { createAgent } from '../../agent/agent.js';
import { agentConfig, waitFor } from '../../harness/agent/agent-env.js';
import { startFakeController } from '../../harness/agent/fake-controller.js';
import { makeAssignment, makeBundle, testKeys } from '../../harness/agent/trust.js';

t.test('a new assignment interrupts a stalled fetch for the abandoned target', async (t) => {
  const keys = testKeys();
  const controller = await startFakeController({ chunkSize: 4096 });
  t.teardown(() => controller.close());
  const stalled = makeBundle(keys, 'tiny-a', { sequence: 1, variant: 1 });
  const next = makeBundle(keys, 'tiny-b', { sequence: 2, variant: 2 });
  for (const b of [stalled, next]) for (const [d, bytes] of b.blobs) controller.blobs.set(d, bytes);
  controller.ignore(stalled.manifestBlob.sha256);
  // Each request waits a minute for progress, five times over, before the fetch gives up.
  const config = await agentConfig(keys, controller.url, 'dev-interrupt', {
    fetch: { maxInFlight: 3, requestTimeoutMs: 60_000 },
  });
  const lines: string[] = [];
  // Debug level: the reconcile step lines (`step fetch start ...`) are what the test reads.
  const logger = createLogger({
    program: 'agent',
    level: 'debug',
    destination: { write: (s: string) => void lines.push((JSON.parse(s) as { msg: string }).msg) },
  });
  const agent = createAgent(config, { logger });
  t.teardown(() => agent.stop());
  await agent.start();
  const assign = (sequence: number, bundle: typeof next) =>
    controller.assign(
      'dev-interrupt',
      makeAssignment(keys, 'dev-interrupt', sequence, [{ name: 'A', bundle, weight: 1 }]),
    );
  await assign(1, stalled);
  await waitFor('fetch of the stalled manifest started', () =>
    lines.some((l) => l.startsWith('step fetch start') && l.includes(stalled.manifestBlob.sha256)),
  );
  await assign(2, next);
  // Well inside one request timeout of the stalled fetch.
  await waitFor(
    'the new bundle served',
    () => agent.service.models()[0]?.bundleDigest === next.digest,
    30_000,
  );
  t.pass('moved on without waiting for the stalled transfer');
  t.notOk(
    controller.events.some((e) => e.code === 'BMF_ERR_ABORTED'),
    'the interruption is not reported as an error',
  );
});
