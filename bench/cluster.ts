// `npm run bench -- cluster`: what one telemetry report and one blob chunk cost the controller
// replicas, the NATS broker and the PostgreSQL store, and ingest throughput with 1 and 2
// replicas, all measured in one run on this machine (docs/scaling.md turns them into a
// capacity model).
//
// Set-up: a 3-node NATS cluster (MQTT listener, JetStream, the device stream with 3 copies),
// PostgreSQL, light MQTT 3.1.1 devices in a process of their own spread over the nodes.
// Reports: the devices publish a batch with no replica running (the stream holds it), then
// N replicas (harness/cluster/intake-replica.ts: JetStream link, decode, the store's
// deduplicating write, acknowledgement) drain it; throughput = reports / drain time. The 2-replica
// figure against the 1-replica one is the ratio; on 2 cores shared with broker and store it shows
// the work being split, not a speed-up.
// Chunks: 256 KiB chunks published over MQTT (QoS 0, as the blob server's chunk link does) to
// devices on every node subscribed to the blob's broadcast topic.
// CPU from /proc (utime + stime of each process group, reaped children included), broker bytes
// from each node's /varz, store bytes from pg_stat_wal.
// Store side first (cluster-store.ts): the rollup merge on PostgreSQL against SQLite, per report
// and batch size, before the broker starts. BMF_BENCH_CLUSTER=store runs only that part.
import { fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { connect } from 'nats';
import type { Test } from 'tap';
import { ensureDeviceStream, JETSTREAM_DEFAULTS } from '../controller/broker/jetstream-link.js';
import { openPostgresStore } from '../controller/store/postgres/open.js';
import { natsSkip, startNatsCluster, type NatsCluster } from '../harness/nats.js';
import { PG_BIN, postgresSkip, startPostgres } from '../harness/postgres.js';
import { spawnForTest } from '../harness/processes.js';
import { waitFor } from '../harness/wait.js';
import { broadcastChunkTopic } from '../shared/wire/topics.js';
import { storeMergeCost } from './cluster-store.js';

const DEVICES = Number(process.env.BMF_BENCH_DEVICES ?? 200);
const REPORTS_PER_DEVICE = Number(process.env.BMF_BENCH_REPORTS ?? 25);
const CHUNKS = Number(process.env.BMF_BENCH_CHUNKS ?? 100);
const CHUNK_SUBSCRIBERS = 12;
const CHUNK_BYTES = 256 * 1024;
const TICKS = 100; // USER_HZ on Linux x86-64
const ROOT = new URL('../', import.meta.url).pathname;

interface ProcessCpu {
  readonly pid: number;
  readonly ppid: number;
  readonly pgrp: number;
  /** utime + stime, with the cutime + cstime of the children it reaped. */
  readonly ticks: number;
}

/** Every process now, from /proc/<pid>/stat (proc(5)). */
function processCpu(): ProcessCpu[] {
  const out: ProcessCpu[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state(0) ppid(1) pgrp(2) ... utime(11) stime(12) cutime(13) cstime(14)
    out.push({
      pid: Number(name),
      ppid: Number(f[1]),
      pgrp: Number(f[2]),
      ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]),
    });
  }
  return out;
}

const cpuSeconds = (ps: readonly ProcessCpu[]) => ps.reduce((s, p) => s + p.ticks, 0) / TICKS;

/** CPU seconds of every process in the group led by `pgid`, with the children it reaped. */
const groupCpu = (pgid: number) => cpuSeconds(processCpu().filter((p) => p.pgrp === pgid));

/** CPU seconds of a process and its children, with those they reaped (PostgreSQL's backends each
 * lead a session of their own, so they are found by parent, not by group). */
const treeCpu = (pid: number) =>
  cpuSeconds(processCpu().filter((p) => p.pid === pid || p.ppid === pid));

function postmasterPid(dir: string): number {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmd.startsWith(`${PG_BIN}/postgres\0`) && cmd.includes(`${dir}/data`))
        return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error('postmaster not found');
}

async function brokerBytes(nats: NatsCluster): Promise<number> {
  let bytes = 0;
  for (const n of nats.nodes) {
    const v = (await (await fetch(`${n.monitorUrl}/varz`)).json()) as {
      in_bytes: number;
      out_bytes: number;
    };
    bytes += v.in_bytes + v.out_bytes;
  }
  return bytes;
}

const brokerCpu = (nats: NatsCluster) =>
  nats.nodes.reduce((s, n) => s + groupCpu(n.pid() ?? -1), 0);

const fmt = (x: number, digits = 1) => x.toFixed(digits);

export async function run(): Promise<void> {
  const storeOnly = process.env.BMF_BENCH_CLUSTER === 'store';
  const skip = (!storeOnly && natsSkip()) || postgresSkip();
  if (skip) {
    console.log(`cluster bench skipped: ${skip}`);
    return;
  }
  const downs: (() => unknown)[] = [];
  const t = { teardown: (f: () => unknown) => downs.push(f) } as unknown as Test;
  try {
    await bench(t, storeOnly);
  } finally {
    for (const d of downs.reverse()) await d();
  }
}

async function bench(t: Test, storeOnly: boolean): Promise<void> {
  const pg = await startPostgres(t);
  const postmaster = postmasterPid(pg.dir);
  console.log('cluster bench, store side: PostgreSQL 15 (fsync=off) and SQLite, in this process');
  await storeMergeCost({ newDatabase: () => pg.newDatabase(), cpu: () => treeCpu(postmaster) });
  if (storeOnly) return;
  const storeUrl = await pg.newDatabase();
  const store = await openPostgresStore(storeUrl);
  t.teardown(() => store.close());
  const nats = await startNatsCluster(t, 3);
  const servers = nats.nodes.map((n) => n.natsUrl);

  const devices = fork(`${ROOT}bench/cluster-devices.ts`, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  t.teardown(() => devices.kill('SIGKILL'));
  const ask = <T>(m: object): Promise<T> =>
    new Promise((resolve) => {
      devices.once('message', (r) => resolve(r as T));
      devices.send(m);
    });
  await ask({ kind: 'connect', urls: nats.nodes.map((n) => n.mqttUrl), count: DEVICES });
  // Made once the devices are connected (the MQTT listener's own streams exist then).
  const nc = await connect({ servers });
  await ensureDeviceStream(nc, { ...JETSTREAM_DEFAULTS, maxInFlight: 512 });
  await nc.close();

  const storeFigures = async () => {
    const w = await store.pool.query<{ wal_bytes: string; wal_write: string }>(
      'SELECT wal_bytes, wal_write FROM pg_stat_wal',
    );
    const d = await store.pool.query<{ xact_commit: string }>(
      'SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()',
    );
    return {
      cpu: treeCpu(postmaster),
      walBytes: Number(w.rows[0]!.wal_bytes),
      walWrites: Number(w.rows[0]!.wal_write),
      commits: Number(d.rows[0]!.xact_commit),
    };
  };
  const stored = async () =>
    Number(
      (await store.pool.query<{ n: string }>('SELECT count(*) AS n FROM telemetry_seen')).rows[0]!
        .n,
    );

  const brokerNow = async () => ({ cpu: brokerCpu(nats), bytes: await brokerBytes(nats) });
  const reports = DEVICES * REPORTS_PER_DEVICE;
  const ingest = async (replicaCount: number, round: number) => {
    const before = await stored();
    const b0 = await brokerNow();
    const published = await ask<{ bytes: number }>({
      kind: 'report',
      perDevice: REPORTS_PER_DEVICE,
      round,
    });
    const b1 = await brokerNow();
    const s0 = await storeFigures();
    const replicas: {
      pid: number;
      cpuAtReady: number;
      ready: Promise<void>;
      handled: () => number;
    }[] = [];
    let started = 0;
    for (let i = 0; i < replicaCount; i++) {
      const child = spawnForTest(
        t,
        process.execPath,
        [
          '--import',
          'tsx',
          'harness/cluster/intake-replica.ts',
          JSON.stringify({
            servers,
            mqttUrl: nats.nodes[i % 3]!.mqttUrl,
            storeUrl,
            name: `bench-${round}-${i}`,
          }),
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let handled = 0;
      const ready = new Promise<void>((resolve) => {
        let out = '';
        child.stdout?.on('data', (d: Buffer) => {
          const lines = (out + d.toString()).split('\n');
          out = lines.pop() ?? '';
          for (const line of lines) {
            if (line === 'ready') resolve();
            const m = /^handled (\d+)$/.exec(line);
            if (m) handled = Number(m[1]);
          }
        });
      });
      replicas.push({ pid: child.pid!, cpuAtReady: 0, ready, handled: () => handled });
    }
    // Consuming starts at `ready`: the clock and each replica's CPU count from there, so the
    // start-up (tsx, connections) is left out.
    await Promise.all(
      replicas.map(async (r) => {
        await r.ready;
        r.cpuAtReady = groupCpu(r.pid);
        started ||= Date.now();
      }),
    );
    await waitFor(
      'the stream drained into the store',
      async () => (await stored()) >= before + reports,
      600_000,
    );
    const seconds = (Date.now() - started) / 1000;
    const replicaCpu = replicas.reduce((s, r) => s + groupCpu(r.pid) - r.cpuAtReady, 0);
    const b2 = await brokerNow();
    const s1 = await storeFigures();
    for (const r of replicas) process.kill(r.pid, 'SIGTERM');
    return {
      split: replicas.map((r) => r.handled()).join(' + '),
      rate: reports / seconds,
      seconds,
      payload: published.bytes / reports,
      replicaCpuUs: (replicaCpu / reports) * 1e6,
      brokerInCpuUs: ((b1.cpu - b0.cpu) / reports) * 1e6,
      brokerOutCpuUs: ((b2.cpu - b1.cpu) / reports) * 1e6,
      brokerBytes: (b2.bytes - b0.bytes) / reports,
      storeCpuUs: ((s1.cpu - s0.cpu) / reports) * 1e6,
      walBytes: (s1.walBytes - s0.walBytes) / reports,
      walWrites: (s1.walWrites - s0.walWrites) / reports,
      commits: (s1.commits - s0.commits) / reports,
    };
  };

  console.log(
    `cluster bench: 3 NATS nodes, PostgreSQL, ${DEVICES} devices, ${reports} reports per run`,
  );
  const one = await ingest(1, 0);
  const two = await ingest(2, 1);
  const oneAgain = await ingest(1, 2);
  for (const [label, r] of [
    ['1 replica', one],
    ['2 replicas', two],
    ['1 replica (again)', oneAgain],
  ] as const) {
    console.log(
      `  ${label.padEnd(18)} ingest ${fmt(r.rate, 0)} reports/s (${fmt(r.seconds)} s; handled ${r.split}) | per report: ` +
        `payload ${fmt(r.payload, 0)} B, replica CPU ${fmt(r.replicaCpuUs, 0)} us, broker CPU ` +
        `${fmt(r.brokerInCpuUs, 0)} us in + ${fmt(r.brokerOutCpuUs, 0)} us out, broker bytes ` +
        `${fmt(r.brokerBytes, 0)} B, store CPU ${fmt(r.storeCpuUs, 0)} us, WAL ${fmt(r.walBytes, 0)} B, ` +
        `${fmt(r.walWrites, 2)} WAL writes, ${fmt(r.commits, 2)} commits`,
    );
  }
  const base = (one.rate + oneAgain.rate) / 2;
  console.log(
    `  ratio 2 replicas / 1 replica (mean of the two 1-replica runs): ${fmt(two.rate / base, 2)}`,
  );

  // Chunks: the controller's chunk link publishes; devices on every node receive.
  const digest = randomBytes(32).toString('hex');
  await ask({ kind: 'subscribe', digest, devices: CHUNK_SUBSCRIBERS });
  const pub = await mqtt.connectAsync(nats.nodes[0]!.mqttUrl, {
    clientId: 'bmfleet-controller-bench-data',
    protocolVersion: 4,
  });
  t.teardown(() => pub.endAsync(true));
  const chunk = randomBytes(CHUNK_BYTES);
  const received = () => ask<{ chunks: number; bytes: number }>({ kind: 'received' });
  const c0 = { cpu: process.cpuUsage(), broker: brokerCpu(nats), bytes: await brokerBytes(nats) };
  const started = Date.now();
  for (let i = 0; i < CHUNKS; i++) {
    await pub.publishAsync(broadcastChunkTopic(digest), chunk, { qos: 0 });
    // Pace to what the devices take: a QoS 0 flood past them is dropped, not measured.
    if (i % 10 === 9) {
      await waitFor(
        'devices caught up',
        async () => (await received()).chunks >= (i + 1 - 5) * CHUNK_SUBSCRIBERS,
        120_000,
      ).catch(() => undefined);
    }
  }
  await waitFor(
    'every chunk delivered',
    async () => (await received()).chunks >= CHUNKS * CHUNK_SUBSCRIBERS,
    120_000,
  ).catch(() => undefined);
  const seconds = (Date.now() - started) / 1000;
  const got = await received();
  const cpu = process.cpuUsage(c0.cpu);
  const brokerChunkCpu = brokerCpu(nats) - c0.broker;
  const brokerChunkBytes = (await brokerBytes(nats)) - c0.bytes;
  console.log(
    `  chunks: ${CHUNKS} x ${CHUNK_BYTES / 1024} KiB to ${CHUNK_SUBSCRIBERS} devices over 3 nodes, ` +
      `${got.chunks} delivered (${fmt((got.bytes * 8) / seconds / 1e6, 0)} Mbit/s) | per chunk ` +
      `published: controller CPU ${fmt((cpu.user + cpu.system) / CHUNKS / 1000, 2)} ms | per chunk ` +
      `delivered: broker CPU ${fmt((brokerChunkCpu / Math.max(got.chunks, 1)) * 1000, 2)} ms, ` +
      `broker bytes ${fmt(brokerChunkBytes / Math.max(got.chunks, 1) / 1024, 0)} KiB`,
  );
  await ask({ kind: 'close' });
}
