// The process side of a fleet simulator: fork one worker per share of devices, send each its
// `start` message, gather progress over IPC (started, ready, active), and stop them. The worker
// module is the caller's: this file forks whatever path it is given and imports none of it, so
// the real-agent simulator (simulate/) reuses it without the controller importing agent code.
import { fork, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bmfError } from '../../shared/errors.js';
import type { CommonParentMessage, CommonWorkerMessage } from './protocol.js';

export interface WorkerModule {
  readonly path: string;
  readonly execArgv: readonly string[];
}

/**
 * `name` next to the module at `metaUrl`, with that module's extension: `.ts` when running the
 * sources through tsx (the child needs `--import tsx` too), `.js` from dist/.
 */
export function siblingWorker(metaUrl: string, name: string): WorkerModule {
  const ext = extname(fileURLToPath(metaUrl));
  return {
    path: fileURLToPath(new URL(`./${name}${ext}`, metaUrl)),
    // tsx resolved from here, not from the working directory (which may be any user's folder).
    execArgv: ext === '.ts' ? ['--import', import.meta.resolve('tsx')] : [],
  };
}

export type ProcessMemory = Omit<Extract<CommonWorkerMessage, { type: 'memory' }>, 'type'>;

export interface FleetProcessesOptions<S> {
  readonly worker: WorkerModule;
  /** One `start` message per process. */
  readonly starts: readonly S[];
  readonly onActive?: (id: string, bundle: string) => void;
  /** Devices started so far over all processes. */
  readonly onStarted?: (devices: number) => void;
  /** After this long a worker that has not exited on `stop` is killed. */
  readonly stopTimeoutMs?: number;
}

export interface FleetProcesses<P, W> {
  readonly children: readonly ChildProcess[];
  /** Resolves when every id reported `bundle` active; rejects if a worker dies first. */
  allActive(ids: readonly string[], bundle: string): Promise<void>;
  /** The latest bundle each device reported active. */
  active(): ReadonlyMap<string, string>;
  send(message: P | CommonParentMessage): void;
  listen(listener: (message: W | CommonWorkerMessage) => void): () => void;
  /** Memory of every worker process, as each reports it. */
  memory(): Promise<ProcessMemory[]>;
  stop(): Promise<void>;
}

export async function startFleetProcesses<S extends object, P extends object = never, W = never>(
  o: FleetProcessesOptions<S>,
): Promise<FleetProcesses<P, W>> {
  type Message = W | CommonWorkerMessage;
  const active = new Map<string, string>();
  const listeners = new Set<(m: Message) => void>();
  const waiters = new Set<{ check: () => void; fail: (e: Error) => void }>();
  const startedBy = new Map<number, number>();
  const children: ChildProcess[] = [];
  let stopping = false;
  let died: Error | undefined;

  const onMessage = (child: ChildProcess, m: Message): void => {
    const c = m as CommonWorkerMessage;
    if (c.type === 'active') {
      active.set(c.id, c.bundle);
      o.onActive?.(c.id, c.bundle);
      for (const w of waiters) w.check();
    } else if (c.type === 'started') {
      startedBy.set(child.pid ?? -1, c.devices);
      o.onStarted?.([...startedBy.values()].reduce((a, b) => a + b, 0));
    }
    for (const l of listeners) l(m);
  };

  const readies = o.starts.map((start) => {
    const child = fork(o.worker.path, [], { execArgv: [...o.worker.execArgv] });
    children.push(child);
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (m: Message) => {
        const c = m as CommonWorkerMessage;
        if (c.type === 'ready') resolve();
        else if (c.type === 'error') reject(bmfError('BMF_ERR_INTERNAL', { reason: c.message }));
        onMessage(child, m);
      });
      child.once('exit', (code, signal) => {
        const e = bmfError('BMF_ERR_INTERNAL', {
          reason: `simulator worker ${child.pid} exited (${code ?? signal})`,
        });
        reject(e);
        if (stopping) return;
        died = e;
        for (const w of waiters) w.fail(e);
      });
    });
    child.send(start);
    return ready;
  });

  async function stop(timeoutMs = o.stopTimeoutMs ?? 15_000): Promise<void> {
    stopping = true;
    await Promise.all(
      children.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exitCode !== null || w.signalCode !== null) return resolve();
            const kill = setTimeout(() => w.kill('SIGKILL'), timeoutMs);
            w.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            if (w.connected) w.send({ type: 'stop' } satisfies CommonParentMessage);
            else w.kill('SIGTERM');
          }),
      ),
    );
  }

  const send = (message: P | CommonParentMessage): void => {
    for (const c of children) if (c.connected) c.send(message);
  };
  const listen = (listener: (m: Message) => void): (() => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };

  try {
    await Promise.all(readies);
  } catch (e) {
    await stop(2_000);
    throw e;
  }

  return {
    children,
    active: () => active,
    allActive(ids, bundle) {
      return new Promise((resolve, reject) => {
        if (died) return reject(died);
        const w = {
          check: () => {
            if (!ids.every((id) => active.get(id) === bundle)) return;
            waiters.delete(w);
            resolve();
          },
          fail: (e: Error) => {
            waiters.delete(w);
            reject(e);
          },
        };
        waiters.add(w);
        w.check();
      });
    },
    send,
    listen,
    async memory() {
      const pending = new Set(children.filter((c) => c.connected).map((c) => c.pid));
      const out: ProcessMemory[] = [];
      await new Promise<void>((resolve) => {
        if (pending.size === 0) return resolve();
        const off = listen((m) => {
          const c = m as CommonWorkerMessage;
          if (c.type !== 'memory' || !pending.delete(c.pid)) return;
          const { type: _type, ...figures } = c;
          out.push(figures);
          if (pending.size === 0) {
            off();
            resolve();
          }
        });
        send({ type: 'memory' });
      });
      return out.sort((a, b) => a.pid - b.pid);
    },
    stop: () => stop(),
  };
}
