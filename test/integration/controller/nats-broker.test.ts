// The controller on a NATS cluster: 3 nodes with their MQTT listener and JetStream, the
// controller publishing over MQTT 3.1.1 and taking device messages from the JetStream stream
// (broker.jetstream), devices on different nodes. Enrolment, presence and state, a rollout in
// two groups until every device reports the bundle active, and telemetry acknowledged to the
// stream once stored and counted by the API.
import t from 'tap';
import { waitForValue } from '../../../harness/wait.js';
import {
  enrolFakeDevices,
  makeSignedBundle,
  startTestController,
  testApi,
} from '../../../harness/controller/test-controller.js';
import { natsSkip, startNatsCluster } from '../../../harness/nats.js';
import { encodeReport } from '../../../harness/controller/telemetry-reports.js';
import { deviceTopic } from '../../../shared/wire/topics.js';

t.test('controller behind a 3-node NATS cluster', { skip: natsSkip() }, async (t) => {
  const nats = await startNatsCluster(t, 3);
  const ctl = await startTestController(undefined, {
    'broker.url': nats.nodes[0]!.mqttUrl,
    'broker.protocolVersion': 4,
    'broker.replicaId': 'a',
    'broker.jetstream': { servers: nats.nodes.map((n) => n.natsUrl), ackWaitMs: 5_000 },
  });
  t.teardown(() => ctl.handle.stop());
  const api = testApi(ctl);
  const { post, get } = api;
  const devices = await enrolFakeDevices(t, api, ['nd-1', 'nd-2', 'nd-3', 'nd-4'], {
    tags: { site: 'nats' },
    brokerUrl: (i) => nats.nodes[i % 3]!.mqttUrl,
  });
  const bundle = await makeSignedBundle(ctl.dataDir);
  t.equal((await post('/v1/bundles', { dir: bundle.dir })).status, 201);
  const created = await post('/v1/rollouts', {
    id: 'r-nats',
    bundle: bundle.digest,
    filter: { tags: { site: 'nats' } },
    groups: [{ count: 1 }, { percent: 100 }],
    deviceTimeoutMs: 60_000,
  });
  t.equal(created.status, 201);
  const done = await waitForValue(
    'the rollout completes',
    async () => {
      const r = await get('/v1/rollouts/r-nats');
      return r.status === 'completed' ? r : undefined;
    },
    60_000,
  );
  t.same(
    (done.groups as { counts: Record<string, number> }[]).map((g) => g.counts),
    [{ active: 1 }, { active: 3 }],
  );
  for (const d of devices) t.same(d.assigned, [bundle.digest], 'each device assigned once');

  const start = Date.now() - 60_000;
  await devices[1]!.client.publishAsync(
    deviceTopic('telemetry', 'nd-2'),
    Buffer.from(
      encodeReport({
        deviceId: 'nd-2',
        intervalStartMs: start,
        bundleDigest: bundle.digest,
        requests: 7,
      }),
    ),
    { qos: 1 },
  );
  await waitForValue(
    'the report in the API',
    async () => {
      const m = await (await fetch(`${ctl.handle.apiUrl}/metrics`, { headers: ctl.auth })).text();
      return /bmfleet_telemetry_reports_total\{result="accepted",replica="[^"]+"\} 1/.test(m)
        ? true
        : undefined;
    },
    30_000,
  );
  t.pass('telemetry stored through the JetStream intake');
});
