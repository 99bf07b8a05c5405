// The fleet simulator: enrol N devices through the controller's REST API (exactly like
// `bmfleet device add`), then run them in P child processes (worker.ts) so the controller and
// broker see N real MQTT connections. Progress arrives over IPC.
import { fork, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bmfError } from '../../shared/errors.js';
import type { ParentMessage, WorkerMessage } from './protocol.js';

export interface FleetOptions {
  readonly controllerUrl: string;
  readonly token: string;
  readonly devices: number;
  readonly processes: number;
  readonly prefix?: string;
  /** First device number (several fleets against one controller). */
  readonly offset?: number;
  readonly chip?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly onActive?: (id: string, bundle: string) => void;
}

export interface Fleet {
  readonly ids: readonly string[];
  readonly brokerUrl: string;
  /** Resolves when every device reported `bundle` active. */
  allActive(bundle: string): Promise<void>;
  /** Benchmark baseline: all devices subscribe to `topic`; resolves once they all have. */
  baselineSubscribe(topic: string, bytes: number): Promise<{ done: Promise<void> }>;
  stop(): Promise<void>;
}

const me = fileURLToPath(import.meta.url);
const WORKER = fileURLToPath(new URL(`./worker${extname(me)}`, import.meta.url));

async function api<T>(
  o: FleetOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<[number, T]> {
  const r = await fetch(`${o.controllerUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${o.token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return [r.status, (r.status === 204 ? undefined : await r.json()) as T];
}

interface Enrolled {
  secret: string;
  agentConfig: { broker: { url: string } };
}

/** Enrol one device; an earlier simulated device of the same name is replaced. */
async function enrol(o: FleetOptions, id: string): Promise<Enrolled> {
  const body = { id, chip: o.chip ?? 'bm1684x', tags: { fleet: 'sim', ...(o.tags ?? {}) } };
  let [status, res] = await api<Enrolled>(o, 'POST', '/v1/devices', body);
  if (status === 409) {
    await api(o, 'DELETE', `/v1/devices/${id}`);
    [status, res] = await api<Enrolled>(o, 'POST', '/v1/devices', body);
  }
  if (status !== 201)
    throw bmfError('BMF_ERR_BAD_REQUEST', {
      reason: `enrol ${id}: HTTP ${status} ${JSON.stringify(res)}`,
    });
  return res;
}

export async function startFleet(o: FleetOptions): Promise<Fleet> {
  const prefix = o.prefix ?? 'sim';
  const offset = o.offset ?? 0;
  const ids = Array.from(
    { length: o.devices },
    (_, i) => `${prefix}-${String(offset + i).padStart(5, '0')}`,
  );
  const creds: { id: string; secret: string }[] = [];
  let brokerUrl = '';
  for (let i = 0; i < ids.length; i += 20) {
    const batch = await Promise.all(ids.slice(i, i + 20).map((id) => enrol(o, id)));
    batch.forEach((e, j) => creds.push({ id: ids[i + j] as string, secret: e.secret }));
    brokerUrl ||= batch[0]?.agentConfig.broker.url ?? '';
  }

  const active = new Map<string, string>();
  const waiters = new Set<() => void>();
  const workers: ChildProcess[] = [];
  const listeners = new Set<(m: WorkerMessage) => void>();
  const per = Math.ceil(ids.length / Math.max(1, o.processes));
  const readies: Promise<void>[] = [];
  for (let p = 0; p * per < creds.length; p++) {
    const child = fork(WORKER, [], { execArgv: extname(me) === '.ts' ? ['--import', 'tsx'] : [] });
    workers.push(child);
    readies.push(
      new Promise((resolve, reject) => {
        child.on('message', (m: WorkerMessage) => {
          if (m.type === 'ready') resolve();
          else if (m.type === 'error') reject(bmfError('BMF_ERR_INTERNAL', { reason: m.message }));
          else if (m.type === 'active') {
            active.set(m.id, m.bundle);
            o.onActive?.(m.id, m.bundle);
            for (const w of waiters) w();
          }
          for (const l of listeners) l(m);
        });
        child.once('exit', (code) =>
          reject(bmfError('BMF_ERR_INTERNAL', { reason: `simulator worker exited ${code}` })),
        );
      }),
    );
    const msg: ParentMessage = {
      type: 'start',
      brokerUrl,
      apiUrl: o.controllerUrl,
      token: o.token,
      devices: creds.slice(p * per, (p + 1) * per),
    };
    child.send(msg);
  }
  await Promise.all(readies);

  return {
    ids,
    brokerUrl,
    allActive(bundle) {
      return new Promise((resolve) => {
        const check = () => {
          if (ids.every((id) => active.get(id) === bundle)) {
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
        check();
      });
    },
    async baselineSubscribe(topic, bytes) {
      let ready = 0;
      let done = 0;
      let onReady!: () => void;
      let onDone!: () => void;
      const allReady = new Promise<void>((r) => (onReady = r));
      const allDone = new Promise<void>((r) => (onDone = r));
      const l = (m: WorkerMessage) => {
        if (m.type === 'baselineReady' && ++ready === workers.length) onReady();
        if (m.type === 'baselineDone' && ++done === workers.length) onDone();
      };
      listeners.add(l);
      for (const w of workers) w.send({ type: 'baseline', topic, bytes } satisfies ParentMessage);
      await allReady;
      return { done: allDone };
    },
    async stop() {
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.exitCode !== null) return resolve();
              w.once('exit', () => resolve());
              w.send({ type: 'stop' } satisfies ParentMessage);
              setTimeout(() => w.kill('SIGKILL'), 5000).unref();
            }),
        ),
      );
    },
  };
}
