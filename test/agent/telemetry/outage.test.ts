// Every telemetry report survives a broker outage: reports made while the broker is away wait in
// the persisted outbox and are sent on reconnect; the controller sees every report sequence.
import t from 'tap';
import { createAgent } from '../../../agent/agent.js';
import { decodeMessage } from '../../../shared/wire/codec.js';
import { agentConfig, waitFor } from '../../../harness/agent/agent-env.js';
import { startFakeController } from '../../../harness/agent/fake-controller.js';
import { goldenInputs } from '../../../harness/agent/models.js';
import { makeAssignment, makeBundle, testKeys } from '../../../harness/agent/trust.js';

const golden = goldenInputs();

t.test('no telemetry report is lost across a broker outage', async (t) => {
  const keys = testKeys();
  const controller = await startFakeController({ chunkSize: 4096 });
  t.teardown(() => controller.close());
  const bundle = makeBundle(keys, 'tiny-a', { sequence: 1 });
  for (const [d, bytes] of bundle.blobs) controller.blobs.set(d, bytes);
  const agent = createAgent(
    await agentConfig(keys, controller.url, 'dev-tel', { telemetry: { intervalMs: 100 } }),
  );
  await agent.start();
  t.teardown(() => agent.stop());
  await controller.assign(
    'dev-tel',
    makeAssignment(keys, 'dev-tel', 1, [{ name: 'A', bundle, weight: 1 }]),
  );
  await waitFor('serving', () => agent.service.ready());

  let sending = true;
  const traffic = (async () => {
    for (let i = 0; sending; i++) {
      await agent.service.infer({ kind: 'tensor', feeds: golden.inputs[i % 16] ?? {} });
      // Not a wait: paces the traffic (about 200 requests a second) so it does not take the
      // event loop from the broker connection and the telemetry timer under test.
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  await waitFor('reports before the outage', () => controller.telemetry.length >= 3);
  const restore = await controller.outage();
  const outageStart = Date.now();
  const counts = () => agent.telemetry().counts();
  const madeBefore = counts().made;
  // The outage took effect when reports made during it stay in the outbox: three of them.
  await waitFor(
    'three reports made and held during the outage',
    () => counts().made >= madeBefore + 3 && counts().pending >= 3,
  );
  const outageEnd = Date.now();
  const madeInOutage = counts().made;
  await restore();
  await waitFor(
    'the outbox sent after reconnecting, and a report made since',
    () => counts().pending === 0 && counts().made > madeInOutage,
  );
  sending = false;
  await traffic;
  await agent.telemetry().tick(); // close the last interval
  const reports = () => controller.telemetry.map((b) => decodeMessage('TelemetryReport', b));
  const made = () => new Set(reports().map((r) => r.reportSequence));
  await waitFor('outbox drained', () => agent.telemetry().counts().pending === 0);
  await waitFor('every report received', () => made().size === agent.telemetry().counts().made);
  const seqs = [...made()].sort((a, b) => a - b);
  t.equal(
    (seqs.at(-1) ?? 0) - (seqs[0] ?? 0) + 1,
    seqs.length,
    `${seqs.length} reports, no sequence missing`,
  );
  t.equal(seqs.length, agent.telemetry().counts().made, 'as many as the agent made');
  const duringOutage = reports().filter(
    (r) => r.intervalEndMs > outageStart && r.intervalEndMs <= outageEnd,
  );
  t.ok(
    duringOutage.length >= 3,
    `${duringOutage.length} reports made during the outage arrived after it`,
  );
  const total = reports().reduce((n, r) => n + r.counters.requests, 0);
  t.ok(total > 0, `${total} requests counted`);
  t.ok(reports().every((r) => r.variant === 'A' && r.latency.e2e !== undefined));
});
