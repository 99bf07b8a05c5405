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
import { parseDeviceId } from '../shared/ids.js';
import { deviceTopic } from '../shared/wire/topics.js';

const N = Number(process.env.BMF_BENCH_NATS_CONNECT_N ?? 200);
const STORM_N = Number(process.env.BMF_BENCH_NATS_STORM_N ?? 300);
const WAVE = 50;
/** How long the storm may take before the bench reports how many came back (the run's ~5 min). */
const STORM_BUDGET_MS = 120_000;
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
  refused: number; // SUBACKs with a refused topic
  unanswered: number; // no CONNACK or SUBACK within ANSWER_MS
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

/** A SUBACK or CONNACK this late counts as unanswered (NATS 2.9 can leave one so, docs/scaling.md). */
const ANSWER_MS = 30_000;

interface Wave {
  clients: MqttClient[];
  wallMs: number; // summed over the answered clients
  answered: number;
  resumed: number;
  refused: number;
  unanswered: number;
}

async function connectWave(c: NatsCluster, ids: readonly string[], clean: boolean): Promise<Wave> {
  const w: Wave = { clients: [], wallMs: 0, answered: 0, resumed: 0, refused: 0, unanswered: 0 };
  await Promise.all(
    ids.map(async (id, k) => {
      const t0 = performance.now();
      const client = mqtt.connect(c.nodes[k % c.nodes.length]!.mqttUrl, {
        clientId: id,
        protocolVersion: 4,
        clean,
        reconnectPeriod: 0,
        connectTimeout: ANSWER_MS,
      });
      w.clients.push(client);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), ANSWER_MS)));
      const answered = (async () => {
        const ack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
          client.once('connect', resolve);
          client.once('error', reject);
        });
        const grants = await client.subscribeAsync(
          Object.fromEntries(DEVICE_TOPICS.map((t) => [deviceTopic(t, id), { qos: 1 as const }])),
        );
        return { ack, refused: grants.some((g) => g.qos !== 1) };
      })();
      try {
        const r = await Promise.race([answered, late]);
        if (r === 'late') w.unanswered++;
        else {
          w.answered++;
          w.wallMs += performance.now() - t0;
          if (r.ack.sessionPresent) w.resumed++;
          if (r.refused) w.refused++;
        }
      } catch {
        w.unanswered++;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return w;
}

async function measure(c: NatsCluster, mode: Mode, prefix: string): Promise<Row> {
  const clean = mode === 'clean';
  let cpu = 0;
  let endCpu = 0;
  let wall = 0;
  let resumed = 0;
  let refused = 0;
  let unanswered = 0;
  let answered = 0;
  for (let from = 0; from < N; from += WAVE) {
    const ids = Array.from({ length: Math.min(WAVE, N - from) }, (_, k) => {
      return `${prefix}-${String(from + k).padStart(5, '0')}`;
    });
    const c0 = brokerCpu(c);
    const w = await connectWave(c, ids, clean);
    const c1 = brokerCpu(c);
    // A client left without an answer is cut (force) rather than waited for.
    await Promise.all(w.clients.map((cl) => cl.endAsync(!cl.connected)));
    // A clean session's state is removed at the disconnect: wait for the server to settle.
    await new Promise((r) => setTimeout(r, 200));
    endCpu += brokerCpu(c) - c1;
    cpu += c1 - c0;
    wall += w.wallMs;
    resumed += w.resumed;
    refused += w.refused;
    unanswered += w.unanswered;
    answered += w.answered;
  }
  return {
    nodes: c.nodes.length,
    mode,
    cpuMs: (cpu / N) * 1000,
    wallMs: wall / Math.max(1, answered),
    endCpuMs: (endCpu / N) * 1000,
    resumed,
    refused,
    unanswered,
  };
}

async function connectCosts(size: number): Promise<Row[]> {
  return withCluster(size, async (c) => {
    // Warm: the MQTT listener's streams exist and JetStream has its leaders.
    const w = await connectWave(c, ['warm-0', 'warm-1', 'warm-2'], true);
    // A client left without an answer is cut (force) rather than waited for.
    await Promise.all(w.clients.map((cl) => cl.endAsync(!cl.connected)));
    const rows = [await measure(c, 'clean', `c${size}`)];
    rows.push(await measure(c, 'persistent, first', `p${size}`));
    rows.push(await measure(c, 'persistent, resumed', `p${size}`));
    return rows;
  });
}

interface Storm {
  devices: number;
  back: number;
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
        const id = parseDeviceId(`storm-${String(i).padStart(5, '0')}`);
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
      // Not all back within the budget is a figure too (how many were), not a failure.
      await waitFor(
        `${STORM_N} links subscribed on a survivor`,
        () => subscribedAt.size === STORM_N,
        STORM_BUDGET_MS,
      ).catch(() => undefined);
      const cpuS = brokerCpu(c, [0, 2]) - c0;
      const times = [...subscribedAt.values()]
        .map((t) => (t - killedAt) / 1000)
        .sort((a, b) => a - b);
      return {
        devices: STORM_N,
        back: times.length,
        recoverS: times.at(-1) ?? NaN,
        firstS: times[0] ?? NaN,
        halfS: times[Math.floor(times.length / 2)] ?? NaN,
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
  // Ctrl-C or a kill ends the run through process.exit, whose handler (harness/processes.ts)
  // kills every nats-server it started.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const load0 = loadavg()[0]!;
  // BMF_BENCH_NATS_PART=storm runs the storm alone (to compare link versions).
  if (process.env.BMF_BENCH_NATS_PART !== 'storm') {
    const rows = [...(await connectCosts(1)), ...(await connectCosts(3))];
    const base = rows[0]!;
    console.log(
      `nats-server CPU (all nodes) per MQTT connect + SUBSCRIBE (4 device topics, QoS 1) + SUBACK, ${N} clients in waves of ${WAVE}`,
    );
    console.log(
      'nodes  session               CPU ms/connect  ratio  wall ms  CPU ms/disconnect  resumed  refused  unanswered',
    );
    for (const r of rows) {
      console.log(
        `${String(r.nodes).padEnd(6)} ${r.mode.padEnd(21)} ${r.cpuMs.toFixed(2).padStart(14)} ${(r.cpuMs / base.cpuMs).toFixed(2).padStart(6)} ${r.wallMs.toFixed(0).padStart(8)} ${r.endCpuMs.toFixed(2).padStart(18)} ${String(r.resumed).padStart(8)} ${String(r.refused).padStart(8)} ${String(r.unanswered).padStart(11)}`,
      );
    }
  }
  const s = await storm();
  console.log(
    `storm: ${s.devices} agent links on node 2 of 3, node 2 killed (SIGKILL): ${s.back} subscribed on a survivor after ${s.recoverS.toFixed(1)} s (first ${s.firstS.toFixed(1)} s, half ${s.halfS.toFixed(1)} s)`,
  );
  console.log(
    `storm: survivors' CPU ${s.cpuS.toFixed(2)} s (${((s.cpuS / s.devices) * 1000).toFixed(2)} ms per device, ${(s.cpuS / s.recoverS).toFixed(2)} cores), ${s.connects} connects, ${s.refusals} refused SUBACKs`,
  );
  console.log(
    `load average ${load0.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end`,
  );
}
