// A bundle that fails its health window is rolled back by the planner, the agent's one decider:
// the regression is reported with its own code, the rollback only once the swap has happened,
// and the regressed bundle is not loaded again under the same assignment. Real broker,
// in-process agent.
import t from 'tap';
import { createAgent } from '../../agent/agent.js';
import { agentConfig, waitFor } from '../../harness/agent/agent-env.js';
import { startFakeController } from '../../harness/agent/fake-controller.js';
import { goldenInputs } from '../../harness/agent/models.js';
import { makeAssignment, makeBundle, testKeys } from '../../harness/agent/trust.js';

const golden = goldenInputs();

t.test(
  'health regression: reported, then rolled back to last-known-good by the planner',
  async (t) => {
    const keys = testKeys();
    const controller = await startFakeController({ chunkSize: 4096 });
    t.teardown(() => controller.close());
    const a = makeBundle(keys, 'tiny-a', { sequence: 1 });
    const b = makeBundle(keys, 'tiny-b', { sequence: 2 });
    for (const bundle of [a, b])
      for (const [d, bytes] of bundle.blobs) controller.blobs.set(d, bytes);
    const config = await agentConfig(keys, controller.url, 'dev-health', { healthMinRequests: 3 });
    const agent = createAgent(config);
    t.teardown(() => agent.stop());
    await agent.start();
    const serving = () => agent.service.models()[0]?.bundleDigest;
    const codes = () => controller.events.map((e) => e.code);

    // a: a window of 1 s with no traffic ends healthy and makes a the last-known-good.
    await controller.assign(
      'dev-health',
      makeAssignment(keys, 'dev-health', 1, [{ name: 'A', bundle: a, weight: 1 }], {
        health: { maxErrorRate: 0.5, maxP95Ms: 10_000, windowS: 1 },
      }),
    );
    await waitFor('a healthy', () =>
      controller.events.some((e) => e.code === 'BMF_EVT_HEALTHY' && e.bundleDigest === a.digest),
    );

    // b: any measured latency is above a p95 bound of a nanosecond, so three requests regress it.
    await controller.assign(
      'dev-health',
      makeAssignment(keys, 'dev-health', 2, [{ name: 'A', bundle: b, weight: 1 }], {
        health: { maxErrorRate: 0.5, maxP95Ms: 1e-6, windowS: 3600 },
      }),
    );
    await waitFor('b active', () => serving() === b.digest);
    for (let i = 0; i < 3; i++)
      await agent.service.infer({
        kind: 'tensor',
        feeds: golden.inputs[i % golden.inputs.length] ?? {},
      });
    await waitFor('rolled back', () => codes().includes('BMF_EVT_ROLLED_BACK'));
    await waitFor('a serving again', () => serving() === a.digest);

    const regressed = controller.events.findIndex(
      (e) => e.code === 'BMF_ERR_AGENT_HEALTH_REGRESSED',
    );
    const rolledBack = controller.events.findIndex((e) => e.code === 'BMF_EVT_ROLLED_BACK');
    t.ok(regressed >= 0, 'the regression is reported with its own code');
    t.ok(regressed < rolledBack, 'regression reported before the rollback');
    t.match(controller.events[regressed], { bundleDigest: b.digest, variant: 'A' });
    t.match(controller.events[rolledBack], {
      bundleDigest: b.digest,
      variant: 'A',
      details: { to: a.digest, reason: /p95 latency/ },
    });
    t.notOk(codes().includes('BMF_ERR_INTERNAL'), 'no internal error reported');
    await waitFor('state names a active', () => agent.state().active.A === a.digest);
    await agent.whenIdle();
    t.equal(serving(), a.digest, 'the regressed bundle is not loaded again');
    t.equal(
      controller.events.filter((e) => e.code === 'BMF_EVT_ROLLED_BACK').length,
      1,
      'one rollback',
    );
    await waitFor('degraded', () => controller.states.at(-1)?.status === 'degraded');
  },
);
