// /metrics of two controller replicas on one PostgreSQL (issue 13): each serves its own
// registries with every series labelled by its replica id, and the gauges that describe the
// fleet (devices online, devices per bundle, rollouts) are read from the store, so both agree.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startControllerReplica } from '../../harness/cluster/controller-replica.js';
import { tempDir } from '../../harness/controller/test-controller.js';
import { natsSkip, startNatsCluster } from '../../harness/nats.js';
import { postgresSkip, startPostgres } from '../../harness/postgres.js';
import { openPostgresStore } from '../../controller/store/postgres/open.js';
import { pgDevices, pgRollouts } from '../../controller/store/postgres/repos.js';
import type { RolloutSpec, RolloutState } from '../../controller/rollout/model.js';
import { createKeystore } from '../../shared/trust/keystore.js';

const skip = natsSkip() || postgresSkip();

/** `name{labels} value` lines of a Prometheus text exposition, comments left out. */
function series(text: string): { name: string; labels: Map<string, string>; value: number }[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(l);
      if (!m) throw new Error(`not a series line: ${l}`);
      const labels = new Map(
        [...(m[2] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]),
      );
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

const FLEET = ['bmfleet_devices_online', 'bmfleet_devices_bundle', 'bmfleet_rollouts'];

t.test(
  'two replicas: distinct replica labels on every series, fleet gauges agree',
  { skip },
  async (t) => {
    const pg = await startPostgres(t);
    const storeUrl = await pg.newDatabase();
    const store = await openPostgresStore(storeUrl, { max: 2 });
    t.teardown(() => store.close());
    const nats = await startNatsCluster(t, 1);
    const dir = await tempDir('bmf-cluster-metrics-');
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await createKeystore(join(dir, 'keys')).init({ now: new Date() });
    const token = randomBytes(24).toString('hex');
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const replica = (name: string) =>
      startControllerReplica(t, {
        name,
        dataDir: join(dir, name),
        keysDir: join(dir, 'keys'),
        blobDir: join(dir, 'blobs'),
        store: storeUrl,
        token,
        mqttUrl: nats.nodes[0]!.mqttUrl,
        natsServers: [nats.nodes[0]!.natsUrl],
      });
    const a = await replica('c1');
    const b = await replica('c2');

    // Devices enrolled through either replica; three of them online and running one bundle, as
    // the tracker of whichever replica took their messages would have stored it.
    const digest = 'c0'.repeat(32);
    const devices = pgDevices(store);
    for (const [i, id] of ['m-1', 'm-2', 'm-3', 'm-4'].entries()) {
      const res = await fetch(`${[a, b][i % 2]!.apiUrl}/v1/devices`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ id, chip: 'bm1684x', tags: {} }),
      });
      t.equal(res.status, 201, `${id} enrolled`);
      if (i === 3) continue;
      await devices.setPresence(id, true, Date.now());
      const active = [{ variant: 'A', bundleDigest: digest, bundleSequence: 1 }];
      await devices.setState(id, { deviceId: id, active, status: 'active' }, {}, Date.now());
    }

    // Two finished rollouts (no executor acts on them): the rollout gauge is the store's count.
    for (const id of ['r-1', 'r-2']) {
      await pgRollouts(store).create(
        { id } as unknown as RolloutSpec,
        { status: 'completed' } as unknown as RolloutState,
        Date.now(),
      );
    }

    const scrape = async (r: typeof a) => {
      const res = await fetch(`${r.apiUrl}/metrics`, { headers });
      t.equal(res.status, 200, `${r.name} /metrics`);
      return series(await res.text());
    };
    const [sa, sb] = [await scrape(a), await scrape(b)];
    const replicaOf = (s: ReturnType<typeof series>, name: string) => {
      const ids = new Set(s.map((x) => x.labels.get('replica')));
      t.equal(ids.size, 1, `${name}: one replica label on every series (${[...ids].join(', ')})`);
      t.notOk(ids.has(undefined), `${name}: no series without it`);
      return [...ids][0]!;
    };
    const ida = replicaOf(sa, 'c1');
    const idb = replicaOf(sb, 'c2');
    t.not(ida, idb, 'the two replicas are told apart');
    t.ok(a.holds(ida) && ida.startsWith('c1:'), `c1 labels with its lease holder id (${ida})`);
    t.ok(b.holds(idb) && idb.startsWith('c2:'), `c2 labels with its lease holder id (${idb})`);

    const fleet = (s: ReturnType<typeof series>) =>
      s
        .filter((x) => FLEET.includes(x.name))
        .map((x) => {
          const labels = [...x.labels].filter(([k]) => k !== 'replica').sort();
          return `${x.name}${JSON.stringify(labels)} ${x.value}`;
        })
        .sort();
    t.same(fleet(sa), fleet(sb), 'the fleet gauges agree');
    const value = (name: string) => sa.find((x) => x.name === name)?.value;
    t.equal(value('bmfleet_devices_online'), 3, 'three devices online, from the store');
    t.equal(value('bmfleet_devices_bundle'), 3, 'three devices on the bundle');
    t.equal(value('bmfleet_rollouts'), 2, 'two completed rollouts');
    t.ok(
      sa.some((x) => x.name === 'bmfleet_api_requests_total'),
      'per-replica series are there too (API requests)',
    );
  },
);
