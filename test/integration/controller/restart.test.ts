// The controller as a real child process (`bmfleet controller --config ...`), killed with
// SIGKILL in the middle of a rollout and started again on the same data dir: the rollout must
// continue from its persisted state to completion, without re-running the finished group.
import t from 'tap';
import { chaosController } from '../../../harness/controller/chaos.js';
import { waitForValue } from '../../../harness/wait.js';
import {
  connectFakeDevice,
  makeSignedBundle,
} from '../../../harness/controller/test-controller.js';

t.test('a rollout survives kill -9 of the controller and completes after restart', async (t) => {
  const ctl = await chaosController({ config: { rollout: { tickMs: 100 } }, test: t });
  const base = ctl.apiUrl;
  await ctl.start();
  const post = async (path: string, body: unknown) =>
    (await (
      await fetch(`${base}${path}`, {
        method: 'POST',
        headers: ctl.headers,
        body: JSON.stringify(body),
      })
    ).json()) as Record<string, unknown>;
  const rollout = async () =>
    (await (await fetch(`${base}/v1/rollouts/r-kill`, { headers: ctl.headers })).json()) as {
      status: string;
      group: number;
      devices: Record<string, { status: string }>;
    };

  const s1 = await ctl.enrol('k-1');
  const s2 = await ctl.enrol('k-2');
  const bundle = await makeSignedBundle(ctl.dataDir);
  t.equal((await post('/v1/bundles', { dir: bundle.dir })).digest, bundle.digest);
  const d1 = await connectFakeDevice(ctl.brokerUrl, 'k-1', s1);
  await post('/v1/rollouts', {
    id: 'r-kill',
    bundle: bundle.digest,
    filter: {},
    groups: [{ count: 1 }, { count: 1 }],
    deviceTimeoutMs: 120_000,
  });
  // k-2 is offline: the rollout waits in group 2 with k-2 assigned. Kill it there.
  const mid = await waitForValue('group 2 started', async () => {
    const r = await rollout();
    return r.group === 1 && r.devices['k-2']?.status === 'assigned' ? r : undefined;
  });
  t.equal(mid.devices['k-1']?.status, 'active');
  await ctl.kill9();
  await d1.close();

  await ctl.start();
  const d2 = await connectFakeDevice(ctl.brokerUrl, 'k-2', s2);
  t.teardown(() => d2.close());
  const done = await waitForValue('completion after restart', async () => {
    const r = await rollout();
    return r.status === 'completed' ? r : undefined;
  });
  t.equal(done.devices['k-1']?.status, 'active', 'finished group kept');
  t.equal(done.devices['k-2']?.status, 'active');
  t.same(d2.assigned.slice(0, 1), [bundle.digest], 'k-2 got its assignment after the restart');
  t.same(d1.assigned, [bundle.digest], 'k-1 was assigned once, before the kill');
  const events = (await (
    await fetch(`${base}/v1/rollouts/r-kill/events`, { headers: ctl.headers })
  ).json()) as {
    events: { type: string }[];
  };
  const count = (type: string) => events.events.filter((e) => e.type === type).length;
  t.equal(count('group_succeeded'), 2, 'each group succeeded once: none was restarted');
  t.equal(count('completed'), 1);

  t.equal(await ctl.stop(), 0, 'SIGTERM shuts down gracefully');
});
