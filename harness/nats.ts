// An N-node NATS cluster for tests and benches: each node with JetStream (its own store dir),
// the MQTT listener and a route to every other node, all on 127.0.0.1 free ports in one temp dir.
// Every node is a child process of the test (processes.ts): ended, also on failure, and the dir
// removed at the end. `kill(i)` is a kill -9 of one node; `restart(i)` starts it again on its
// ports and store.
//
// JetStream in a cluster needs a server_name per node and a cluster name
// (https://docs.nats.io/running-a-nats-service/configuration/clustering/jetstream_clustering);
// the MQTT listener needs JetStream for its sessions and retained messages
// (https://docs.nats.io/running-a-nats-service/configuration/mqtt).
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Test } from 'tap';
import { freePort } from './controller/test-controller.js';
import { endProcess, exitOf, spawnForTest } from './processes.js';
import { waitFor } from './wait.js';

/** Debian's nats-server (what .ci/run installs); BMFLEET_NATS_SERVER points elsewhere. */
export const NATS_SERVER = process.env.BMFLEET_NATS_SERVER ?? '/usr/sbin/nats-server';

/** Why NATS tests cannot run here, or false when they can. */
export function natsSkip(): false | string {
  if (!existsSync(NATS_SERVER)) {
    return `nats-server absent (${NATS_SERVER}; apt-get install nats-server)`;
  }
  return false;
}

export interface NatsNode {
  readonly name: string;
  /** nats://127.0.0.1:port, for NATS clients (the controller's JetStream intake). */
  readonly natsUrl: string;
  /** mqtt://127.0.0.1:port, for devices and the controller's MQTT publishing link. */
  readonly mqttUrl: string;
  readonly monitorUrl: string;
  pid(): number | undefined;
}

export interface NatsCluster {
  readonly nodes: readonly NatsNode[];
  readonly dir: string;
  /** kill -9 of node `i` (no goodbye to its routes or clients). */
  kill(i: number): Promise<void>;
  /** Start node `i` again on its ports and JetStream store. */
  restart(i: number): Promise<void>;
  /** The nodes' logs (last few KiB each), for failure messages. */
  logs(): string;
}

interface Ports {
  client: number;
  cluster: number;
  mqtt: number;
  monitor: number;
}

export function natsNodeConfig(o: {
  name: string;
  dir: string;
  ports: Ports;
  routes: readonly number[];
  mqttStreamReplicas: number;
  /** A file beside the configuration to include (NATS 2.9 resolves it from the config's dir). */
  include?: string;
}): string {
  return [
    `server_name: ${o.name}`,
    `listen: 127.0.0.1:${o.ports.client}`,
    `http: 127.0.0.1:${o.ports.monitor}`,
    'jetstream {',
    `  store_dir: "${join(o.dir, 'js')}"`,
    '  max_memory_store: 256MB',
    '  max_file_store: 2GB',
    '}',
    // A single node is no cluster: JetStream refuses a cluster block without routes.
    ...(o.routes.length === 0
      ? []
      : [
          'cluster {',
          '  name: bmfleet',
          `  listen: 127.0.0.1:${o.ports.cluster}`,
          `  routes: [${o.routes.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}]`,
          '}',
        ]),
    'mqtt {',
    `  listen: 127.0.0.1:${o.ports.mqtt}`,
    // Sessions, retained messages and QoS 1 deliveries live in JetStream streams the server
    // makes itself; with replicas they outlive the node a device was connected to.
    `  stream_replicas: ${o.mqttStreamReplicas}`,
    '  ack_wait: "10s"',
    '  max_ack_pending: 1024',
    '}',
    ...(o.include !== undefined ? [`include ${JSON.stringify(o.include)}`] : []),
    '',
  ].join('\n');
}

export interface NatsClusterOptions {
  /** Configuration text every node includes (an `authorization { users }` block). */
  readonly include?: string;
}

export async function startNatsCluster(
  t: Test,
  size: number,
  opts: NatsClusterOptions = {},
): Promise<NatsCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'bmf-nats-'));
  const include = opts.include !== undefined ? 'include.conf' : undefined;
  const ports: Ports[] = [];
  for (let i = 0; i < size; i++) {
    ports.push({
      client: await freePort(),
      cluster: await freePort(),
      mqtt: await freePort(),
      monitor: await freePort(),
    });
  }
  const children: (ChildProcess | undefined)[] = new Array(size).fill(undefined);
  const logs: string[] = new Array(size).fill('');
  const nodes: NatsNode[] = ports.map((p, i) => ({
    name: `n${i + 1}`,
    natsUrl: `nats://127.0.0.1:${p.client}`,
    mqttUrl: `mqtt://127.0.0.1:${p.mqtt}`,
    monitorUrl: `http://127.0.0.1:${p.monitor}`,
    pid: () => children[i]?.pid,
  }));

  const launch = async (i: number) => {
    const nodeDir = join(dir, nodes[i]!.name);
    await mkdir(nodeDir, { recursive: true });
    const conf = join(nodeDir, 'nats.conf');
    if (include !== undefined) {
      await writeFile(join(nodeDir, include), opts.include!, { mode: 0o600 });
    }
    await writeFile(
      conf,
      natsNodeConfig({
        name: nodes[i]!.name,
        dir: nodeDir,
        ports: ports[i]!,
        routes: ports.filter((_, j) => j !== i).map((q) => q.cluster),
        mqttStreamReplicas: Math.min(3, size),
        ...(include !== undefined ? { include } : {}),
      }),
    );
    const child = spawnForTest(t, NATS_SERVER, ['-c', conf], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children[i] = child;
    // A survivor retries a dead node's route every second; kept, those lines would push
    // everything else out of the tail within a minute.
    child.stderr?.on('data', (b: Buffer) => {
      const text = b
        .toString()
        .split('\n')
        .filter((l) => !l.includes('Error trying to connect to route'))
        .join('\n');
      logs[i] = (logs[i] + text).slice(-6000);
    });
  };

  t.teardown(async () => {
    for (const c of children) if (c) await endProcess(c);
    await rm(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < size; i++) await launch(i);
  // Healthy: listening, routes up and JetStream current (the meta group has a leader).
  const healthy = async (i: number) => {
    if (children[i]?.exitCode !== null)
      throw new Error(`nats ${nodes[i]!.name} exited: ${logs[i]}`);
    try {
      const r = await fetch(`${nodes[i]!.monitorUrl}/healthz`);
      return r.ok;
    } catch {
      return false;
    }
  };
  await waitFor(
    `${size} NATS nodes healthy with JetStream`,
    async () => (await Promise.all(nodes.map((_, i) => healthy(i)))).every(Boolean),
    60_000,
  );
  return {
    nodes,
    dir,
    async kill(i) {
      const c = children[i];
      if (!c || c.pid === undefined) return;
      process.kill(-c.pid, 'SIGKILL');
      await exitOf(c);
    },
    async restart(i) {
      await launch(i);
      await waitFor(`NATS ${nodes[i]!.name} healthy again`, () => healthy(i), 60_000);
    },
    logs: () => nodes.map((n, i) => `--- ${n.name}\n${logs[i]}`).join('\n'),
  };
}
