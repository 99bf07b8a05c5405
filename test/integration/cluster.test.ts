// The controller past one machine: a 3-node NATS cluster (MQTT listener, JetStream), PostgreSQL,
// 3 replicas taking device messages from the shared JetStream consumer, and 200 light devices
// spread over the broker nodes, each sending telemetry reports with MQTT 3.1.1 QoS 1. Halfway
// through, one replica (and, in the second case, one broker node) is killed with SIGKILL. Every
// report a device had acknowledged (PUBACK) is stored exactly once: counted sent against stored,
// key by key. The replicas take reports from the MQTT listener's own QoS 1 stream, which holds
// a report before its PUBACK is sent, so a node's death loses none (docs/scaling.md).
//
// The replicas of the broker half are intake processes (harness/cluster/intake-replica.ts: the
// JetStream link and the store's deduplication); the scenario below runs whole controllers and
// kills the lease holder and a broker node during a rollout.
import t, { type Test } from 'tap';
import type { ChildProcess } from 'node:child_process';
import mqtt, { type MqttClient } from 'mqtt';
import { connect } from 'nats';
import { spawnForTest } from '../../harness/processes.js';
import { natsSkip, startNatsCluster, type NatsCluster } from '../../harness/nats.js';
import { postgresSkip, startPostgres } from '../../harness/postgres.js';
import { waitFor, waitForValue } from '../../harness/wait.js';
import { encodeReport } from '../../harness/controller/telemetry-reports.js';
import { ensureDeviceStream, JETSTREAM_DEFAULTS } from '../../controller/broker/jetstream-link.js';
import { openPostgresStore } from '../../controller/store/postgres/open.js';
import { deviceTopic } from '../../shared/wire/topics.js';
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createKeystore } from '../../shared/trust/keystore.js';
import { blobPath as bundleBlobPath } from '../../shared/bundle/layout.js';
import { makeSignedBundle, tempDir } from '../../harness/controller/test-controller.js';
import {
  startControllerReplica,
  type ControllerReplica,
} from '../../harness/cluster/controller-replica.js';
import { nodeOf, startClusterDevices } from '../../harness/cluster/light-devices.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const DEVICES = 200;
const ROUNDS = 10;
const REPLICAS = 3;
const skip = natsSkip() || postgresSkip();
if (skip) console.log(`# cluster test skipped: ${skip}`);
interface Replica {
  readonly child: ChildProcess;
  handled(): number;
}

async function startReplica(
  t: Test,
  name: string,
  o: { servers: string[]; mqttUrl: string; storeUrl: string },
): Promise<Replica> {
  const child = spawnForTest(
    t,
    process.execPath,
    [
      '--import',
      'tsx',
      'harness/cluster/intake-replica.ts',
      JSON.stringify({ ...o, name, ackWaitMs: 5_000 }),
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  let handled = 0;
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      const lines = (out + d.toString()).split('\n');
      out = lines.pop() ?? ''; // an unfinished line waits for the rest
      for (const line of lines) {
        if (line === 'ready') resolve();
        const m = /^handled (\d+)$/.exec(line);
        if (m) handled = Number(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`replica ${name} exited ${code}: ${err}`)));
  });
  return { child, handled: () => handled };
}

/** A light device: MQTT 3.1.1, its home node first and the others to fail over to. */
async function startDevice(t: Test, id: string, nats: NatsCluster, home: number) {
  const order = [home, ...nats.nodes.keys()].filter((v, i, a) => a.indexOf(v) === i);
  const servers = order.map((i) => {
    const u = new URL(nats.nodes[i]!.mqttUrl);
    return { host: u.hostname, port: Number(u.port) };
  });
  const c: MqttClient = await mqtt.connectAsync({
    servers,
    clientId: id,
    username: id,
    password: 'pw',
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 200,
    // Each connect writes the device's session to a replicated JetStream stream: on 2 loaded
    // cores that can take seconds, so the wait is long and the devices connect in batches.
    connectTimeout: 30_000,
  });
  t.teardown(() => c.endAsync(true));
  return c;
}

const scenario = (killBrokerNode: boolean) => async (t: Test) => {
  const pg = await startPostgres(t);
  const storeUrl = await pg.newDatabase();
  const store = await openPostgresStore(storeUrl); // migrates
  t.teardown(() => store.close());
  const nats = await startNatsCluster(t, 3);
  const servers = nats.nodes.map((n) => n.natsUrl);
  const ids = Array.from({ length: DEVICES }, (_, i) => `cl-${String(i).padStart(3, '0')}`);
  const devices: MqttClient[] = [];
  for (let i = 0; i < ids.length; i += 20) {
    const batch = ids.slice(i, i + 20);
    devices.push(
      ...(await Promise.all(batch.map((id, j) => startDevice(t, id, nats, (i + j) % 3)))),
    );
  }
  // The shared consumer on the MQTT listener's stream (it exists now that devices are
  // connected), made once before the replicas race to make it.
  const nc = await connect({ servers });
  await ensureDeviceStream(nc, { ...JETSTREAM_DEFAULTS, maxInFlight: 512 });
  await nc.close();

  const replicas: Replica[] = [];
  for (let i = 0; i < REPLICAS; i++) {
    replicas.push(
      await startReplica(t, `r${i + 1}`, { servers, mqttUrl: nats.nodes[i]!.mqttUrl, storeUrl }),
    );
  }

  const sent = new Set<string>();
  const t0 = 1_800_000_000_000;
  const round = (r: number) =>
    Promise.all(
      devices.map(async (c, i) => {
        const id = ids[i]!;
        const intervalStartMs = t0 + r * 10_000;
        await c.publishAsync(
          deviceTopic('telemetry', id),
          Buffer.from(
            encodeReport({
              deviceId: id,
              intervalStartMs,
              reportSequence: r + 1,
              latency: { e2e: [5, 6, 7] },
            }),
          ),
          { qos: 1 },
        );
        sent.add(`${id}/${intervalStartMs}`); // acknowledged by the broker
      }),
    );
  for (let r = 0; r < ROUNDS / 2; r++) await round(r);
  // The replica that took reports, and a broker node that devices and a replica are on.
  await waitFor('replica r1 handling reports', () => replicas[0]!.handled() > 0, 60_000);
  process.kill(-replicas[0]!.child.pid!, 'SIGKILL');
  if (killBrokerNode) await nats.kill(1);
  for (let r = ROUNDS / 2; r < ROUNDS; r++) await round(r);
  t.equal(sent.size, DEVICES * ROUNDS, 'every report acknowledged to its device');

  const storedKeys = async () =>
    (
      await store.pool.query<{ device_id: string; interval_start: string }>(
        'SELECT device_id, interval_start FROM telemetry_seen',
      )
    ).rows.map((r) => `${r.device_id}/${r.interval_start}`);
  await waitFor(
    'every sent report stored',
    async () => (await storedKeys()).length >= sent.size,
    180_000,
  ).catch((e: unknown) => {
    t.comment(nats.logs().slice(-3000));
    throw e;
  });
  const stored = await storedKeys();
  t.equal(stored.length, sent.size, 'stored as many as sent');
  t.same(new Set(stored), sent, 'each sent report stored, none other');
  const handled = replicas.map((r) => r.handled());
  t.ok(
    handled.filter((n) => n > 0).length >= 2,
    `the surviving replicas shared the work (handled: ${handled.join(', ')})`,
  );
};

t.test('3 broker nodes, 3 replicas, 200 devices: kill -9 a replica', { skip }, scenario(false));
t.test(
  '3 broker nodes, 3 replicas, 200 devices: kill -9 a replica and a broker node',
  { skip },
  scenario(true),
);

// Issue 13's scenario: 3 whole controllers (`bmfleet controller`, harness/cluster/controller-replica.ts)
// on the PostgreSQL store behind the 3-node NATS cluster, light devices that fetch what they are
// assigned (harness/cluster/light-devices.ts) spread over the nodes with the others to fail over
// to, reporting telemetry every 2 s (QoS 1), and a rollout in two groups with a soak between
// them. During the soak the replica holding the lease AND the broker node its MQTT link is on
// are killed with SIGKILL. A survivor takes the lease over after its expiry and finishes the
// rollout; the devices of the dead node reconnect to the others and must get group 2's
// assignment there.
const ROLLOUT_DEVICES = Number(process.env.BMFLEET_CLUSTER_ROLLOUT_DEVICES ?? 200);

t.test(
  `rollout in two groups across 3 controller replicas, lease holder and its broker node killed (${ROLLOUT_DEVICES} devices)`,
  { skip },
  async (t) => {
    const startedAt = Date.now();
    const pg = await startPostgres(t);
    const storeUrl = await pg.newDatabase();
    const store = await openPostgresStore(storeUrl, { max: 2 }); // migrates; the test reads it
    t.teardown(() => store.close());
    const nats = await startNatsCluster(t, 3);
    const natsServers = nats.nodes.map((n) => n.natsUrl);
    const dir = await tempDir('bmf-cluster-');
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await createKeystore(join(dir, 'keys')).init({ now: new Date() });
    const token = randomBytes(24).toString('hex');
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const shared = {
      keysDir: join(dir, 'keys'),
      blobDir: join(dir, 'blobs'),
      store: storeUrl,
      token,
    };
    // Replica c<i+1> publishes through node i.
    const replica = (i: number) =>
      startControllerReplica(t, {
        ...shared,
        name: `c${i + 1}`,
        dataDir: join(dir, `c${i + 1}`),
        mqttUrl: nats.nodes[i]!.mqttUrl,
        natsServers,
      });
    // The first makes the device stream; the others find it.
    const replicas: ControllerReplica[] = [await replica(0)];
    replicas.push(...(await Promise.all([replica(1), replica(2)])));
    const alive = new Set(replicas);
    const call = async (r: ControllerReplica, path: string, body?: unknown) => {
      const res = await fetch(`${r.apiUrl}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    const ids = Array.from(
      { length: ROLLOUT_DEVICES },
      (_, i) => `ro-${String(i).padStart(3, '0')}`,
    );
    const secrets = new Map<string, string>();
    for (const [i, id] of ids.entries()) {
      // Enrolled through every replica in turn: the API is served by each.
      const r = await call(replicas[i % 3]!, '/v1/devices', {
        id,
        chip: 'bm1684x',
        tags: { site: 'cl' },
      });
      t.equal(r.status, 201, `${id} enrolled`, { diagnostic: false });
      secrets.set(id, r.body.secret as string);
    }
    // The simulator reads a bundle's file list from the API: any replica still running (a load
    // balancer's job in front of real replicas).
    const files = new Map<string, readonly string[]>();
    const bundleFiles = async (digest: string) => {
      const known = files.get(digest);
      if (known) return known;
      for (const r of alive) {
        const res = await call(r, `/v1/bundles/${digest}`).catch(() => undefined);
        if (res?.status !== 200) continue;
        const list = (res.body.files as { sha256: string }[]).map((f) => f.sha256);
        files.set(digest, list);
        return list;
      }
      throw new Error(`no replica answered for bundle ${digest}`);
    };
    const devices = await startClusterDevices(t, { ids, secrets, nats, bundleFiles });
    t.comment(
      `${devices.length} devices connected ${((Date.now() - startedAt) / 1000).toFixed(0)} s in`,
    );

    // The bundle goes in through replica c1; its blobs land in the shared directory.
    const bundle = await makeSignedBundle(dir, { bytes: 300_000 });
    t.equal(
      (await call(replicas[0]!, '/v1/bundles', { dir: bundle.dir })).status,
      201,
      'pushed through c1',
    );

    const holder = async () =>
      (
        await store.pool.query<{ holder: string }>(
          "SELECT holder FROM leases WHERE name = 'controller' AND expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint",
        )
      ).rows[0]?.holder;
    const first = await waitForValue(
      'a replica holding the lease',
      async () => {
        const h = await holder();
        return h === undefined ? undefined : replicas.find((r) => r.holds(h));
      },
      60_000,
    );
    const firstNode = replicas.indexOf(first); // the node its MQTT link is on
    const others = replicas.filter((r) => r !== first);
    const refused = await call(others[0]!, '/v1/rollouts', {
      id: 'r-x',
      bundle: bundle.digest,
      filter: {},
    });
    t.equal(refused.status, 503, 'a replica without the lease refuses to create a rollout');
    t.match(JSON.stringify(refused.body), /BMF_ERR_NOT_LEASE_HOLDER/);
    const created = await call(first, '/v1/rollouts', {
      id: 'r-cluster',
      bundle: bundle.digest,
      filter: { tags: { site: 'cl' } },
      groups: [{ percent: 50 }, { percent: 100 }],
      deviceTimeoutMs: 180_000,
      healthGate: { soakMs: 8_000, minRequests: 1 },
    });
    t.equal(created.status, 201, `rollout created on the lease holder ${first.name}`);

    // Telemetry, QoS 1: every report the broker acknowledged (PUBACK, publishAsync resolved)
    // must be stored exactly once.
    const sent = new Set<string>();
    // Reports of the target bundle, a round from every device every 2 s, as devices keep
    // reporting: each group's health gate counts those of its soak, from the minute the soak
    // started (telemetry is kept in minute rollups), so a round sent before group 2 began its
    // soak counts only when both fall in one wall-clock minute.
    let round = 0;
    let resent = 0;
    let closing = false;
    t.teardown(() => {
      closing = true;
    });
    const report = (r: number) => {
      const intervalStartMs = Date.now() - 1_000 + r;
      return Promise.all(
        devices.map(async ({ id, device }) => {
          const payload = Buffer.from(
            encodeReport({
              deviceId: id,
              intervalStartMs,
              bundleDigest: bundle.digest,
              reportSequence: r + 1,
              latency: { e2e: [5, 6, 7] },
            }),
          );
          // mqtt.js rejects a publish whose connection closed while it sent its stored ones
          // again on a reconnect (NATS closes a connection whose store request timed out): not
          // acknowledged, so the device sends the same report again, as the agent's reporter.
          for (;;) {
            try {
              await device.client.publishAsync(deviceTopic('telemetry', id), payload, { qos: 1 });
              break;
            } catch (e) {
              if (closing) throw e;
              resent++;
              // Sent again once the connection is back (on this node or another one).
              await waitFor(`${id} reconnected`, () => closing || device.client.connected, 120_000);
            }
          }
          sent.add(`${id}/${intervalStartMs}`);
        }),
      );
    };
    let reporting = true;
    const reporter = async () => {
      while (reporting) {
        await report(round++);
        // Not a wait for anything: the devices' reporting period (a round every 2 s), looking
        // every 100 ms whether the test has stopped them.
        for (let i = 0; i < 20 && reporting; i++) await new Promise((r) => setTimeout(r, 100));
      }
    };
    const rolloutOf = async () => {
      for (const r of others) {
        const res = await call(r, '/v1/rollouts/r-cluster').catch(() => undefined);
        if (res?.status === 200) return res.body;
      }
      return undefined;
    };
    // Group 1 done, the soak running: the kills go there.
    await waitFor(
      'group 1 active, soaking',
      async () => {
        const body = await rolloutOf();
        const groups = body?.groups as { size: number; counts: Record<string, number> }[];
        return body?.group === 0 && groups[0]!.counts.active === groups[0]!.size;
      },
      180_000,
    );
    const reports = reporter();
    reports.catch(() => undefined); // awaited below; a failure before then is not unhandled
    // Not awaited there: a round in flight when the devices are closed may never settle.
    t.teardown(() => {
      reporting = false;
    });
    await waitFor('a round of reports acknowledged', () => sent.size >= ROLLOUT_DEVICES, 60_000);
    const onKilledNode = devices.filter((d) => nodeOf(nats, d) === firstNode).map((d) => d.id);
    process.kill(-first.child.pid!, 'SIGKILL');
    alive.delete(first);
    await nats.kill(firstNode);
    const killedAt = Date.now();
    t.comment(
      `killed ${first.name} (lease holder) and node ${nats.nodes[firstNode]!.name} ` +
        `(its MQTT link, ${onKilledNode.length} devices on it) ` +
        `${((killedAt - startedAt) / 1000).toFixed(0)} s in`,
    );

    const diagnose = async () => {
      t.comment(`lease: ${await holder()}`);
      // The rollout as a survivor sees it, and for each device it does not count active: what
      // the store holds as its state and what the device itself runs.
      const seen = await call(others[0]!, '/v1/rollouts/r-cluster?devices=true').catch(
        () => undefined,
      );
      const { devices: perDevice, ...rollout } = (seen?.body ?? {}) as {
        devices?: Record<string, { status: string }>;
      };
      t.comment(JSON.stringify(rollout).slice(0, 3000));
      const pending = Object.entries(perDevice ?? {}).filter(([, v]) => v.status !== 'active');
      const states = await store.pool.query<{ id: string; state: string | null }>(
        'SELECT id, state FROM devices WHERE id = ANY($1)',
        [pending.map(([id]) => id)],
      );
      for (const [id, v] of pending) {
        const d = devices.find((x) => x.id === id);
        const st = JSON.parse(states.rows.find((r) => r.id === id)?.state ?? 'null') as {
          status?: string;
          assignmentSequence?: number;
          timeMs?: number;
        } | null;
        t.comment(
          `${id}: rollout ${v.status}; stored state ${st?.status} seq ${st?.assignmentSequence} ` +
            `at ${st?.timeMs === undefined ? '-' : st.timeMs - killedAt} ms after the kills; ` +
            `device runs ${d?.device.activeBundle() === bundle.digest ? 'the target' : 'other'}, ` +
            `home ${d?.home} now ${d ? nodeOf(nats, d) : '-'}, ` +
            `received ${JSON.stringify(d?.received.map((a) => [a.sequence, a.at - killedAt]))}`,
        );
      }
      const behind = devices.filter((d) => d.device.activeBundle() !== bundle.digest);
      t.comment(
        `not on the target (${behind.length}): ` +
          behind
            .map(
              (d) =>
                `${d.id} home ${d.home} now ${nodeOf(nats, d)} killed-node ${onKilledNode.includes(d.id)} ` +
                `received ${JSON.stringify(d.received.map((a) => [a.sequence, a.at - killedAt]))}`,
            )
            .join('; '),
      );
      for (const r of replicas) t.comment(`${r.name}: ${r.log().slice(-3000)}`);
      t.comment(nats.logs().slice(-4000));
    };
    const done = await waitForValue(
      'the rollout completes on a survivor',
      async () => {
        const body = await rolloutOf();
        return body?.status === 'completed' ? body : undefined;
      },
      180_000,
    ).catch(async (e: unknown) => {
      await diagnose();
      throw e;
    });
    reporting = false;
    await reports;
    t.comment(`${round} rounds of reports, ${resent} sent again after a failed publish`);
    t.comment(`completed ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kills`);
    const next = await holder();
    t.ok(
      next !== undefined && others.some((r) => r.holds(next)),
      `the lease moved to a survivor (${next})`,
    );
    t.same(
      (done.groups as { counts: Record<string, number> }[]).map((g) => g.counts),
      [{ active: ROLLOUT_DEVICES / 2 }, { active: ROLLOUT_DEVICES / 2 }],
      'every device active on the target, as the controller sees it',
    );
    const behind = devices.filter((d) => d.device.activeBundle() !== bundle.digest);
    t.same(
      behind.map((d) => d.id),
      [],
      'every device fetched the target and runs it, as the devices see it',
    );

    // No rollout action taken twice: the planner's events, and the assignments (each one is a
    // row with a sequence of its own, taken in the transaction that stores it).
    const events = await store.pool.query<{ type: string; message: string; n: string }>(
      "SELECT type, message, count(*) AS n FROM rollout_events WHERE rollout_id = 'r-cluster' GROUP BY type, message",
    );
    const count: Record<string, number> = {};
    for (const r of events.rows) count[r.type] = (count[r.type] ?? 0) + Number(r.n);
    t.same(
      events.rows.filter((r) => r.n !== '1'),
      [],
      'no planner event written twice',
    );
    // group_started is written at most once a minute (plan.ts): group 2 may start without one.
    t.match(
      count,
      { group_succeeded: 2, completed: 1 },
      `each group succeeded once (${JSON.stringify(count)})`,
    );
    t.ok((count.group_started ?? 0) >= 1 && (count.group_started ?? 0) <= 2, 'groups started once');
    t.notOk('device_retry' in count || 'paused' in count, 'no retry, no pause');
    const assigned = await store.pool.query<{ device_id: string; sequence: string }>(
      'SELECT device_id, sequence FROM assignments',
    );
    const storedSequences = new Map<string, string[]>();
    for (const r of assigned.rows)
      storedSequences.set(r.device_id, [...(storedSequences.get(r.device_id) ?? []), r.sequence]);
    t.equal(storedSequences.size, ROLLOUT_DEVICES, 'every device assigned');
    t.same(
      [...storedSequences].filter(([, s]) => s.length !== 1),
      [],
      'and each only once',
    );
    // What the devices received: one assignment each (its sequence the stored one), however
    // many times the broker delivered it (again on every subscribe after a failover).
    const twice = devices.filter((d) => {
      const sequences = new Set(d.received.map((a) => String(a.sequence)));
      return sequences.size !== 1 || !sequences.has(storedSequences.get(d.id)?.[0] ?? '');
    });
    t.same(
      twice.map((d) => `${d.id}: ${JSON.stringify(d.received)}`),
      [],
      'each device received one assignment, the stored one',
    );
    t.ok(
      devices.every((d) => d.received.at(-1)?.bundle === bundle.digest),
      'every device was last assigned the target',
    );
    const deliveries = devices.reduce((n, d) => n + d.received.length, 0);
    t.comment(`${deliveries} assignment deliveries for ${ROLLOUT_DEVICES} assignments`);
    // The case the kills are for: devices that were on the dead node, assigned only afterwards.
    const failedOver = devices.filter(
      (d) => onKilledNode.includes(d.id) && (d.received[0]?.at ?? 0) > killedAt,
    );
    t.comment(
      `${failedOver.length} of the ${onKilledNode.length} devices on the killed node were ` +
        'first assigned after the kills (group 2), from a survivor, through another node',
    );

    const storedKeys = async () =>
      (
        await store.pool.query<{ device_id: string; interval_start: string }>(
          'SELECT device_id, interval_start FROM telemetry_seen',
        )
      ).rows.map((r) => `${r.device_id}/${r.interval_start}`);
    await waitFor(
      'every sent report stored',
      async () => (await storedKeys()).length >= sent.size,
      120_000,
    ).catch(async (e: unknown) => {
      const stored = new Set(await storedKeys());
      const missing = [...sent].filter((k) => !stored.has(k));
      t.comment(`missing ${missing.length}: ${missing.slice(0, 20).join(' ')}`);
      throw e;
    });
    const stored = await storedKeys();
    t.equal(stored.length, sent.size, `stored as many as sent (${sent.size})`);
    t.same(new Set(stored), sent, 'each sent report stored, none other');
    const requests = await store.pool.query<{ n: string }>(
      'SELECT sum(requests) AS n FROM telemetry_minute',
    );
    // Each report carries 3 requests (its 3 e2e samples).
    t.equal(Number(requests.rows[0]?.n), 3 * sent.size, 'the rollups count each report once');

    // A blob of the bundle pushed through c1, fetched in ranges from the two survivors.
    const detail = await call(others[1]!, `/v1/bundles/${bundle.digest}`);
    const file = (detail.body.files as { sha256: string; size: number }[])[0]!;
    const whole = await readFile(bundleBlobPath(bundle.dir, file.sha256));
    const basic = `Basic ${Buffer.from(`${ids[0]}:${secrets.get(ids[0]!)}`).toString('base64')}`;
    for (const [r, [start, end]] of [
      [others[0]!, [0, 65_535]],
      [others[1]!, [100_000, file.size - 1]],
    ] as const) {
      const res = await fetch(`${r.apiUrl}/v1/blobs/${file.sha256}`, {
        headers: { authorization: basic, range: `bytes=${start}-${end}` },
      });
      t.equal(res.status, 206, `${r.name} serves a range of a blob pushed through c1`);
      t.ok(
        Buffer.from(await res.arrayBuffer()).equals(whole.subarray(start, end + 1)),
        `${r.name}: the bytes of the file`,
      );
    }
    t.comment(`scenario took ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
  },
);
