// A broker node dies under connected agents: 3 NATS nodes, a controller replica (a real
// `bmfleet controller` process on PostgreSQL, taking device messages from JetStream, publishing
// over MQTT on node 1) and 6 agent links (agent/sync/link.ts, MQTT 3.1.1, a clean session on
// every connection),
// two on each node, each given the other nodes to fail over to. Each device reports its state
// as the agent does (on every connect, once its SUBSCRIBE is answered, after each assignment and
// every 10 s), with the sequence of the newest assignment it has. Node 2 is killed with
// SIGKILL and a new assignment (A2, another bundle) is made through the API. Every device is
// expected to end with A2: those that kept their connection, those whose connection a surviving
// node reset, and those of the killed node, which fail over to a survivor. Whichever copy reaches
// them (the live one, the session's queue, the retained one, or the copy the controller sends
// again when a report shows an older sequence: controller/distribution/catch-up.ts). No broker
// ever resumes a session for them (a resumed one could stop delivering on NATS 2.9 after a
// failover: docs/scaling.md), which every CONNACK must confirm.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createAgentLink, type AgentLink } from '../../agent/sync/link.js';
import { natsSkip, startNatsCluster } from '../../harness/nats.js';
import { postgresSkip, startPostgres } from '../../harness/postgres.js';
import { waitFor } from '../../harness/wait.js';
import { startControllerReplica } from '../../harness/cluster/controller-replica.js';
import { makeSignedBundle, tempDir } from '../../harness/controller/test-controller.js';
import { createKeystore } from '../../shared/trust/keystore.js';
import { parseDeviceId, parseDigest, type DeviceId } from '../../shared/ids.js';

const DEVICES = 6;
/** How often a device reports its state without news (the agent: after every reconcile pass). */
const STATE_EVERY_MS = 10_000;
const skip = natsSkip() || postgresSkip();

interface Held {
  readonly sequence: number;
  readonly bundle: string;
}

t.test('every device gets the assignment made after a broker node dies', { skip }, async (t) => {
  const pg = await startPostgres(t);
  const nats = await startNatsCluster(t, 3);
  const urls = nats.nodes.map((n) => n.mqttUrl);
  const dir = await tempDir('bmf-node-loss-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await createKeystore(join(dir, 'keys')).init({ now: new Date() });
  const token = randomBytes(24).toString('hex');
  const replica = await startControllerReplica(t, {
    name: 'c1',
    dataDir: join(dir, 'c1'),
    keysDir: join(dir, 'keys'),
    blobDir: join(dir, 'blobs'),
    store: await pg.newDatabase(),
    token,
    mqttUrl: urls[0]!,
    natsServers: nats.nodes.map((n) => n.natsUrl),
  });
  const call = async (path: string, body: unknown) => {
    const res = await fetch(`${replica.apiUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const ids = Array.from({ length: DEVICES }, (_, i) => parseDeviceId(`nl-${i}`));
  for (const id of ids) {
    const r = await call('/v1/devices', { id, chip: 'bm1684x' });
    t.equal(r.status, 201, `${id} enrolled`, { diagnostic: false });
  }
  const bundles: string[] = [];
  for (const version of ['1.0.0', '1.1.0']) {
    const b = await makeSignedBundle(dir, { version, sequence: bundles.length + 1, bytes: 4096 });
    t.equal((await call('/v1/bundles', { dir: b.dir })).status, 201, `bundle ${version} pushed`);
    bundles.push(b.digest);
  }
  const [a1, a2] = bundles as [string, string];
  const name = (bundle: string) => (bundle === a1 ? 'A1' : bundle === a2 ? 'A2' : bundle);

  // What each device holds (the newest assignment it got), and every arrival.
  const held = new Map<string, Held>();
  const arrivals = new Map<string, string[]>(ids.map((id) => [id, []]));
  const has = (id: string, bundle: string) => held.get(id)?.bundle === bundle;
  let killedAt = 0; // not yet
  const resetAfterKill = new Set<DeviceId>();
  const started = Date.now();
  const history = new Map<string, string[]>(ids.map((id) => [id, []]));
  const note = (id: string, what: string) =>
    history.get(id)!.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${what}`);
  const links = new Map<string, AgentLink>();
  const connects: { id: string; sessionPresent: boolean }[] = [];
  const report = (id: DeviceId) => {
    const link = links.get(id);
    const h = held.get(id);
    if (!link?.connected()) return;
    void link
      .publish('state', {
        deviceId: id,
        active: h ? [{ variant: 'A', bundleDigest: parseDigest(h.bundle), bundleSequence: 0 }] : [],
        lastKnownGood: [],
        assignmentSequence: h?.sequence ?? 0,
        status: h ? 'active' : 'idle',
        lastErrorCode: '',
        uptimeMs: Date.now() - started,
        timeMs: Date.now(),
      })
      .catch(() => undefined);
  };
  for (const [i, id] of ids.entries()) {
    const home = i % 3;
    const noop = () => undefined;
    links.set(
      id,
      createAgentLink({
        url: urls[home]!,
        failoverUrls: urls.filter((_, j) => j !== home),
        deviceId: id,
        protocolVersion: 4,
        reconnectMs: 200,
        onBrokerEvent: (e) => {
          note(id, JSON.stringify(e));
          if (e.kind === 'connected') connects.push({ id, sessionPresent: e.sessionPresent });
        },
        onConnect: () => report(id),
        onResubscribed: () => report(id),
        // The connection itself lost (not a refused subscription, which is news of kind 'lost').
        onOffline: () => {
          if (killedAt > 0 && !has(id, a2)) resetAfterKill.add(id);
        },
        handlers: {
          assignment: (m) => {
            const doc = JSON.parse(Buffer.from(m.envelope).toString()) as {
              signed: { sequence: number; variants: { bundle: { digest: string } }[] };
            };
            const got = {
              sequence: doc.signed.sequence,
              bundle: doc.signed.variants[0]!.bundle.digest,
            };
            note(id, `got ${name(got.bundle)} (sequence ${got.sequence})`);
            arrivals.get(id)!.push(name(got.bundle));
            // As the agent orders them: only a newer sequence is taken (assignment-order.ts).
            if (got.sequence > (held.get(id)?.sequence ?? 0)) {
              held.set(id, got);
              report(id);
            }
          },
          blobOffer: noop,
          blobChunk: noop,
          command: noop,
        },
      }),
    );
  }
  t.teardown(() => Promise.all([...links.values()].map((l) => l.close())));
  const reporting = setInterval(() => ids.forEach(report), STATE_EVERY_MS);
  t.teardown(() => clearInterval(reporting));

  const everyDeviceHas = (bundle: string, ms: number) =>
    waitFor(`every device has ${name(bundle)}`, () => ids.every((id) => has(id, bundle)), ms).catch(
      (e: unknown) => {
        t.comment(`without ${name(bundle)}: ${ids.filter((id) => !has(id, bundle)).join(', ')}`);
        for (const id of ids) t.comment(`${id}: ${history.get(id)!.join('; ')}`);
        t.comment(replica.log());
        t.comment(nats.logs().slice(-6000));
        throw e;
      },
    );
  const assign = async (bundle: string) => {
    for (const id of ids) {
      const r = await call(`/v1/devices/${id}/assignment`, { bundle });
      t.equal(r.status, 202, `${name(bundle)} assigned to ${id}`, { diagnostic: false });
    }
  };

  await waitFor(
    'every link connected',
    () => [...links.values()].every((l) => l.connected()),
    60_000,
  );
  // No resending by the test: a device that subscribed after A1 went out, or on a node that had
  // not yet learnt of the retained copy, reports an older sequence and the controller sends it.
  await assign(a1);
  await everyDeviceHas(a1, 180_000);
  t.pass('every device got A1');

  // Where each device is connected now, asked of the nodes (/connz, mqtt_client): a link that
  // lost its connection under load has moved on to the next node of its list.
  const nodeOf = async (id: string): Promise<number | undefined> => {
    for (const [i, n] of nats.nodes.entries()) {
      const r = await fetch(`${n.monitorUrl}/connz?mqtt_client=${encodeURIComponent(id)}`);
      const body = (await r.json()) as { connections?: unknown[] };
      if ((body.connections ?? []).length > 0) return i;
    }
    return undefined;
  };
  const placed = new Map<string, number | undefined>();
  for (const id of ids) placed.set(id, await nodeOf(id));
  const killed = 1;
  const onKilled = ids.filter((id) => placed.get(id) === killed);
  t.comment(
    `connected at the kill: ${ids.map((id) => `${id} on ${placed.get(id) !== undefined ? nats.nodes[placed.get(id)!]!.name : 'none'}`).join(', ')}`,
  );
  killedAt = Date.now();
  await nats.kill(killed);
  for (const id of ids) note(id, 'node 2 killed');
  await assign(a2);
  for (const id of ids) note(id, 'A2 assigned');
  // On failure everyDeviceHas has printed each device's history, the replica's and the nodes' logs.
  const everyoneGotIt = await everyDeviceHas(a2, 180_000).then(
    () => true,
    () => false,
  );
  const kept = ids.filter((id) => !onKilled.includes(id) && !resetAfterKill.has(id));
  t.ok(
    everyoneGotIt,
    `A2, assigned after node 2 died, reached every device: on the killed node ` +
      `${onKilled.join(', ') || 'none'}; connection reset by a survivor ` +
      `${[...resetAfterKill].filter((id) => !onKilled.includes(id)).join(', ') || 'none'}; ` +
      `kept their connection ${kept.join(', ') || 'none'}`,
  );
  t.same(
    connects.filter((c) => c.sessionPresent),
    [],
    `no connection resumed a session (${connects.length} connects)`,
  );
  // Seconds from the kill to A2 per device, and how many copies each got (more than one: the
  // live or retained copy and a catch-up one, which the agent takes as the same envelope).
  t.comment(
    `A2 after the kill: ${ids
      .map((id) => {
        const at = history.get(id)!.find((h) => h.includes('got A2'));
        const sec = at ? Number(at.split('s ')[0]) - (killedAt - started) / 1000 : NaN;
        return `${id} ${sec.toFixed(1)} s x${arrivals.get(id)!.filter((a) => a === 'A2').length}`;
      })
      .join(', ')}`,
  );
  // Which devices the controller sent a catch-up copy (logged at debug level).
  if (process.env.BMFLEET_CLUSTER_LOG_LEVEL === 'debug') {
    const sentAgain = replica
      .log()
      .split('\n')
      .filter((l) => l.startsWith('{') && l.includes('assignment sent again'))
      .map((l) => {
        const e = JSON.parse(l) as { time?: number | string; device?: string; reported?: number };
        const at = typeof e.time === 'string' ? Date.parse(e.time) : (e.time ?? NaN);
        return `${e.device} (reported ${e.reported}) at ${((at - killedAt) / 1000).toFixed(1)} s`;
      });
    t.comment(`catch-up copies (the replica's log tail): ${sentAgain.join(', ') || 'none'}`);
  }
});
