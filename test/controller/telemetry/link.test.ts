// Ingestion over a real embedded broker and the controller's MQTT link, with mqtt.js clients
// publishing as devices: every report arrives and is counted once; garbage is dropped.
import t from 'tap';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '../../../controller/broker/embedded.js';
import { CONTROLLER_USERNAME } from '../../../controller/broker/acl.js';
import { connectControllerLink } from '../../../controller/broker/link.js';
import { deviceTopic } from '../../../shared/wire/topics.js';
import { encodeReport, lognormalSamples } from '../../../harness/controller/telemetry-reports.js';
import { waitFor } from '../../../harness/wait.js';
import { openTelemetry } from './harness.js';

const DEVICES = 4;
const REPORTS = 25;

t.test('reports published by devices are all ingested', async (t) => {
  const now = Date.now();
  const { service } = openTelemetry(t, now);
  const ids = Array.from({ length: DEVICES }, (_, i) => `dev-${i}`);
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    controllerSecret: 'controller-secret',
    authenticateDevice: (id, secret) => ids.includes(id) && secret === `secret-${id}`,
  });
  t.teardown(() => broker.close());
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const link = await connectControllerLink({
    url,
    username: CONTROLLER_USERNAME,
    password: 'controller-secret',
    clientId: `${CONTROLLER_USERNAME}-telemetry-test`,
  });
  t.teardown(() => link.close());
  link.on('telemetry', (id, payload) => void service.ingest(id, payload));

  const clients = await Promise.all(
    ids.map((id) =>
      mqtt.connectAsync(url, {
        clientId: id,
        username: id,
        password: `secret-${id}`,
        protocolVersion: 4,
        reconnectPeriod: 0,
      }),
    ),
  );
  t.teardown(() => Promise.all(clients.map((c) => c.endAsync())));

  let sent = 0;
  let samples = 0;
  await Promise.all(
    clients.map(async (c, d) => {
      const id = ids[d] as string;
      for (let r = 0; r < REPORTS; r++) {
        const e2e = lognormalSamples(30, 5, 0.3, d * 1000 + r);
        samples += e2e.length;
        const bytes = encodeReport({
          deviceId: id,
          intervalStartMs: now - 600_000 + r * 10_000,
          latency: { e2e },
        });
        await c.publishAsync(deviceTopic('telemetry', id), Buffer.from(bytes), { qos: 1 });
        sent++;
      }
      await c.publishAsync(deviceTopic('telemetry', id), Buffer.from('not a report'), { qos: 1 });
    }),
  );
  t.equal(sent, DEVICES * REPORTS);
  await waitFor(
    'all messages to arrive',
    () => service.stats().accepted + (service.stats().dropped.malformed ?? 0) >= sent + DEVICES,
  );
  t.equal(service.stats().accepted, sent, 'every report counted');
  t.equal(service.stats().dropped.malformed, DEVICES, 'garbage dropped and counted');
  await service.flush();
  const q = await service.query({ fromMs: now - 3_600_000, toMs: now + 60_000 });
  t.equal(q.requests, samples, 'all samples merged');
  t.equal(q.devices, DEVICES);
});
