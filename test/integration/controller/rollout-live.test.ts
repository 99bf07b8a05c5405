// A real listening controller (embedded broker and API on ephemeral ports): enrol devices over
// HTTP, connect them with real mqtt.js clients using the returned credentials, and drive a
// staged rollout through the REST API until every device reports the bundle active.
import t from 'tap';
import mqtt from 'mqtt';
import { waitForValue } from '../../../harness/wait.js';
import {
  enrolFakeDevices,
  makeSignedBundle,
  startTestController,
  testApi,
} from '../../../harness/controller/test-controller.js';

const ctl = await startTestController();
t.teardown(() => ctl.handle.stop());
const base = ctl.handle.apiUrl;
const api = testApi(ctl);
const { post, get } = api;

t.test('enrolled credentials connect; wrong ones are refused', async (t) => {
  const added = await post('/v1/devices', { id: 'live-0', chip: 'bm1684x' });
  t.equal(added.status, 201);
  const cfg = added.body.agentConfig as {
    broker: { url: string; username: string; password: string };
  };
  const client = await mqtt.connectAsync(cfg.broker.url, {
    clientId: cfg.broker.username,
    username: cfg.broker.username,
    password: cfg.broker.password,
    protocolVersion: 4,
  });
  t.ok(client.connected, 'device connects with the returned agent config');
  const online = await waitForValue('presence', async () => {
    const d = await get('/v1/devices/live-0');
    return d.online === true ? d : undefined;
  });
  t.equal(online.online, true, 'presence reaches the API');
  await client.endAsync();
  await t.rejects(
    mqtt.connectAsync(cfg.broker.url, {
      clientId: 'live-0',
      username: 'live-0',
      password: 'not-the-secret',
      protocolVersion: 4,
      reconnectPeriod: 0,
    }),
    'a wrong secret is refused',
  );
});

t.test('staged rollout through the API until completed', async (t) => {
  const devices = await enrolFakeDevices(t, api, ['live-1', 'live-2', 'live-3', 'live-4'], {
    tags: { site: 'berlin' },
    brokerUrl: () => ctl.handle.brokerUrl,
  });
  const bundle = await makeSignedBundle(ctl.dataDir);
  t.equal((await post('/v1/bundles', { dir: bundle.dir })).status, 201);

  const created = await post('/v1/rollouts', {
    id: 'r-live',
    bundle: bundle.digest,
    filter: { tags: { site: 'berlin' } },
    groups: [{ count: 1 }, { percent: 100 }],
    afterGroup: 'approval',
    deviceTimeoutMs: 30_000,
  });
  t.equal(created.status, 201);
  const awaiting = await waitForValue('approval', async () => {
    const r = await get('/v1/rollouts/r-live');
    return r.status === 'awaiting_approval' ? r : undefined;
  });
  t.same((awaiting.groups as { counts: unknown }[])[0]?.counts, { active: 1 }, 'group 1 active');
  t.equal((await post('/v1/rollouts/r-live/approve', {})).status, 200);
  const done = await waitForValue('completion', async () => {
    const r = await get('/v1/rollouts/r-live');
    return r.status === 'completed' ? r : undefined;
  });
  t.same(
    (done.groups as { size: number; counts: Record<string, number> }[]).map((g) => g.counts),
    [{ active: 1 }, { active: 3 }],
  );
  for (const d of devices) t.same(d.assigned, [bundle.digest], 'each device assigned once');
  const shown = await get('/v1/devices/live-3');
  t.equal(shown.activeBundle, bundle.digest, 'the API reports the active bundle');
  const events = (await get('/v1/rollouts/r-live/events')).events as { type: string }[];
  t.ok(events.some((e) => e.type === 'completed'));
  const metrics = await (await fetch(`${base}/metrics`, { headers: ctl.auth })).text();
  t.match(
    metrics,
    new RegExp(`bmfleet_devices_bundle\\{bundle="${bundle.digest.slice(0, 12)}"[^\\n]*\\} 4`),
    'device gauge per bundle',
  );
});
