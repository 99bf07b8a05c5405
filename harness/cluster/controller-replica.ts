// A whole controller replica as a real process (`bmfleet controller --config ...`) on a shared
// PostgreSQL store, behind a NATS cluster (MQTT to publish, JetStream to take device messages),
// with the keys, the blob directory and the operator token shared with its siblings, as
// docs/scaling.md sets replicas up. Ended in the test's teardown (harness/processes.ts).
import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Test } from 'tap';
import { freePort } from '../controller/test-controller.js';
import { spawnForTest } from '../processes.js';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface ReplicaOptions {
  readonly name: string;
  /** Its own data dir (controller secret, config). */
  readonly dataDir: string;
  /** Shared by every replica. */
  readonly keysDir: string;
  readonly blobDir: string;
  readonly store: string;
  readonly token: string;
  readonly mqttUrl: string;
  readonly natsServers: readonly string[];
  readonly tickMs?: number;
}

export interface ControllerReplica {
  readonly name: string;
  readonly child: ChildProcess;
  readonly apiUrl: string;
  /** What the replica writes as the lease holder (controller/main.ts: replica id and pid). */
  holds(holder: string): boolean;
  /** The tail of its stderr (for failure messages). */
  log(): string;
}

export async function startControllerReplica(
  t: Test,
  o: ReplicaOptions,
): Promise<ControllerReplica> {
  await mkdir(o.dataDir, { recursive: true });
  const port = await freePort();
  const configPath = join(o.dataDir, 'controller.json');
  await writeFile(
    configPath,
    JSON.stringify({
      dataDir: o.dataDir,
      keysDir: o.keysDir,
      blobDir: o.blobDir,
      store: o.store,
      api: { port, tokens: [o.token] },
      broker: {
        url: o.mqttUrl,
        protocolVersion: 4,
        replicaId: o.name,
        jetstream: { servers: o.natsServers, ackWaitMs: 5_000 },
      },
      rollout: { tickMs: o.tickMs ?? 200 },
    }),
  );
  const child = spawnForTest(
    t,
    process.execPath,
    ['--import', 'tsx', 'cli/entry.ts', 'controller', '--config', configPath],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BMFLEET_LOG_LEVEL: process.env.BMFLEET_CLUSTER_LOG_LEVEL ?? 'warn' },
    },
  );
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out = (out + d.toString()).slice(-8000);
      if (out.includes('controller ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`replica ${o.name} exited ${code}: ${err}`)));
  });
  return {
    name: o.name,
    child,
    apiUrl: `http://127.0.0.1:${port}`,
    holds: (holder) => holder.endsWith(`:${child.pid}`),
    log: () => err,
  };
}
