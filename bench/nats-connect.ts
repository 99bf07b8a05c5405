// What an MQTT connect costs a NATS 2.9 server (its MQTT listener keeps sessions and QoS 1
// subscriptions in JetStream): server CPU (/proc utime + stime of every nats-server, as
// bench/nats-users.ts) and wall per connect + SUBSCRIBE to the agent's four device topics (QoS 1)
// + SUBACK, for a clean session, a persistent session's first connect and the same session
// resumed, on one node and on 3 (stream replicas 3, harness/nats.ts). Ratios against the clean
// single-node run of the same bench run. Then a reconnect storm: N agent links (the agent's own
// link: failover URLs, its reconnect timing) on node 2 of 3, node 2 killed with SIGKILL, the time
// until every link is connected and subscribed on a survivor and the survivors' CPU meanwhile.
// CPU time, not wall time, is the figure to trust: the machine is shared.
import { loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import type { Test } from 'tap';
import { createAgentLink } from '../agent/sync/link.js';
import type { AgentLink } from '../agent/sync/link.js';
import { natsSkip, startNatsCluster } from '../harness/nats.js';
import type { NatsCluster } from '../harness/nats.js';
import { waitFor } from '../harness/wait.js';
import type { DeviceId } from '../shared/ids.js';
import { deviceTopic } from '../shared/wire/topics.js';

const N = Number(process.env.BMF_BENCH_NATS_CONNECT_N ?? 300);
const STORM_N = Number(process.env.BMF_BENCH_NATS_STORM_N ?? 300);
const WAVE = 50;
/** The topics the agent's link subscribes to with QoS 1 on every connect (agent/sync/link.ts). */
const DEVICE_TOPICS = ['assignment', 'blobOffer', 'blobChunk', 'command'] as const;

/** CPU seconds of a process so far (utime + stime from /proc), 0 once it is gone. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ 100)
  } catch {
    return 0;
  }
}

const brokerCpu = (c: NatsCluster, only?: readonly number[]) =>
  (only ?? c.nodes.map((_, i) => i)).reduce((s, i) => s + cpuSeconds(c.nodes[i]!.pid()), 0);

type Mode = 'clean' | 'persistent, first' | 'persistent, resumed';

interface Row {
  nodes: number;
  mode: Mode;
  cpuMs: number; // broker CPU per connect + subscribe
  wallMs: number; // mean wall per connect + subscribe
  endCpuMs: number; // broker CPU per disconnect
  resumed: number; // CONNACKs with session present
}

async function withCluster<T>(size: number, f: (c: NatsCluster) => Promise<T>): Promise<T> {
  const downs: (() => unknown)[] = [];
  const t = { teardown: (d: () => unknown) => downs.push(d) } as unknown as Test;
  try {
    return await f(await startNatsCluster(t, size));
  } finally {
    for (const d of downs.reverse()) await d();
  }
}

async function connectWave(
  c: NatsCluster,
  ids: readonly string[],
  clean: boolean,
): Promise<{ clients: MqttClient[]; wallMs: number; resumed: number }> {
  let wallMs = 0;
  let resumed = 0;
  const clients = await Promise.all(
    ids.map(async (id, k) => {
      const t0 = performance.now();
      const client = mqtt.connect(c.nodes[k % c.nodes.length]!.mqttUrl, {
        clientId: id,
        protocolVersion: 4,
        clean,
        reconnectPeriod: 0,
        connectTimeout: 60_000,
      });
      const ack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('error', reject);
      });
      if (ack.sessionPresent) resumed++;
      const grants = await client.subscribeAsync(
        Object.fromEntries(DEVICE_TOPICS.map((k) => [deviceTopic(k, id), { qos: 1 as const }])),
      );
      if (grants.some((g) => g.qos !== 1))
        throw new Error(`${id}: SUBACK refused ${grants[0]?.qos}`);
      wallMs += performance.now() - t0;
      return client;
    }),
  );
  return { clients, wallMs, resumed };
}

async function measure(c: NatsCluster, mode: Mode, prefix: string): Promise<Row> {
  const clean = mode === 'clean';
  let cpu = 0;
  let endCpu = 0;
  let wall = 0;
  let resumed = 0;
  for (let from = 0; from < N; from += WAVE) {
    const ids = Array.from({ length: Math.min(WAVE, N - from) }, (_, k) => {
      return `${prefix}-${String(from + k).padStart(5, '0')}`;
    });
    const c0 = brokerCpu(c);
    const w = await connectWave(c, ids, clean);
    const c1 = brokerCpu(c);
    await Promise.all(w.clients.map((cl) => cl.endAsync()));
    // A clean session's state is removed at the disconnect: wait for the server to settle.
    await new Promise((r) => setTimeout(r, 200));
    endCpu += brokerCpu(c) - c1;
    cpu += c1 - c0;
    wall += w.wallMs;
    resumed += w.resumed;
  }
  return {
    nodes: c.nodes.length,
    mode,
    cpuMs: (cpu / N) * 1000,
    wallMs: wall / N,
    endCpuMs: (endCpu / N) * 1000,
    resumed,
  };
}

async function connectCosts(size: number): Promise<Row[]> {
  return withCluster(size, async (c) => {
    // Warm: the MQTT listener's streams exist and JetStream has its leaders.
    const w = await connectWave(c, ['warm-0', 'warm-1', 'warm-2'], true);
    await Promise.all(w.clients.map((cl) => cl.endAsync()));
    const rows = [await measure(c, 'clean', `c${size}`)];
    rows.push(await measure(c, 'persistent, first', `p${size}`));
    rows.push(await measure(c, 'persistent, resumed', `p${size}`));
    return rows;
  });
}

interface Storm {
  devices: number;
  recoverS: number;
  firstS: number;
  halfS: number;
  cpuS: number;
  connects: number;
  refusals: number;
}

async function storm(): Promise<Storm> {
  return withCluster(3, async (c) => {
    const links: AgentLink[] = [];
    const subscribedAt = new Map<number, number>();
    let killedAt = 0;
    let connects = 0;
    let refusals = 0;
    const noop = () => undefined;
    try {
      for (let i = 0; i < STORM_N; i++) {
        const id = `storm-${String(i).padStart(5, '0')}` as DeviceId;
        const subscribed = () => {
          if (killedAt > 0 && !subscribedAt.has(i)) subscribedAt.set(i, performance.now());
        };
        links.push(
          createAgentLink({
            url: c.nodes[1]!.mqttUrl,
            failoverUrls: [c.nodes[2]!.mqttUrl, c.nodes[0]!.mqttUrl],
            deviceId: id,
            protocolVersion: 4,
            handlers: { assignment: noop, blobOffer: noop, blobChunk: noop, command: noop },
            onConnect: subscribed,
            onResubscribed: subscribed,
            onBrokerEvent: (e) => {
              if (killedAt === 0) return;
              if (e.kind === 'connected') connects++;
              if (e.kind === 'lost' && e.reason.startsWith('subscribe refused')) refusals++;
            },
          }),
        );
      }
      await waitFor(
        `${STORM_N} links connected to node 2`,
        () => links.every((l) => l.connected()),
        120_000,
      );
      // Let the subscriptions settle before the kill.
      await new Promise((r) => setTimeout(r, 2000));
      const c0 = brokerCpu(c, [0, 2]);
      killedAt = performance.now();
      await c.kill(1);
      await waitFor(
        `${STORM_N} links subscribed on a survivor`,
        () => subscribedAt.size === STORM_N,
        240_000,
      );
      const cpuS = brokerCpu(c, [0, 2]) - c0;
      const times = [...subscribedAt.values()]
        .map((t) => (t - killedAt) / 1000)
        .sort((a, b) => a - b);
      return {
        devices: STORM_N,
        recoverS: times.at(-1)!,
        firstS: times[0]!,
        halfS: times[Math.floor(times.length / 2)]!,
        cpuS,
        connects,
        refusals,
      };
    } finally {
      await Promise.all(links.map((l) => l.close()));
    }
  });
}

export async function run(): Promise<void> {
  const skip = natsSkip();
  if (skip) {
    console.log(`nats-connect bench skipped: ${skip}`);
    return;
  }
  const load0 = loadavg()[0]!;
  const rows = [...(await connectCosts(1)), ...(await connectCosts(3))];
  const base = rows[0]!;
  console.log(
    `nats-server CPU (all nodes) per MQTT connect + SUBSCRIBE (4 device topics, QoS 1) + SUBACK, ${N} clients in waves of ${WAVE}`,
  );
  console.log(
    'nodes  session               CPU ms/connect  ratio  wall ms  CPU ms/disconnect  resumed',
  );
  for (const r of rows) {
    console.log(
      `${String(r.nodes).padEnd(6)} ${r.mode.padEnd(21)} ${r.cpuMs.toFixed(2).padStart(14)} ${(r.cpuMs / base.cpuMs).toFixed(2).padStart(6)} ${r.wallMs.toFixed(0).padStart(8)} ${r.endCpuMs.toFixed(2).padStart(18)} ${String(r.resumed).padStart(8)}`,
    );
  }
  const s = await storm();
  console.log(
    `storm: ${s.devices} agent links on node 2 of 3, node 2 killed (SIGKILL): all subscribed on a survivor after ${s.recoverS.toFixed(1)} s (first ${s.firstS.toFixed(1)} s, half ${s.halfS.toFixed(1)} s)`,
  );
  console.log(
    `storm: survivors' CPU ${s.cpuS.toFixed(2)} s (${((s.cpuS / s.devices) * 1000).toFixed(2)} ms per device, ${(s.cpuS / s.recoverS).toFixed(2)} cores), ${s.connects} connects, ${s.refusals} refused SUBACKs`,
  );
  console.log(
    `load average ${load0.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end`,
  );
}
