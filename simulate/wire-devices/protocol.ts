// Messages between a fleet simulator's parent and its worker processes (IPC). Every worker
// (the lightweight devices' worker.ts here, the real agents' simulate/worker.ts) answers the
// common messages; each adds its own `start` and whatever else it needs.
export type CommonParentMessage =
  | { readonly type: 'stop' }
  /** Ask for the worker's memory figures (answered by a `memory` message). */
  | { readonly type: 'memory' };

export type CommonWorkerMessage =
  /** Devices started so far (progress while a large share starts). */
  | { readonly type: 'started'; readonly devices: number }
  | { readonly type: 'ready'; readonly devices: number }
  | { readonly type: 'active'; readonly id: string; readonly bundle: string }
  | {
      readonly type: 'memory';
      readonly pid: number;
      readonly rss: number;
      readonly heapUsed: number;
      /** Simulator sessions open in the process and the references to them (real agents). */
      readonly sessions?: { readonly open: number; readonly refs: number };
    }
  | { readonly type: 'error'; readonly message: string };

export type ParentMessage =
  | {
      readonly type: 'start';
      readonly brokerUrl: string;
      readonly failoverUrls: readonly string[];
      readonly apiUrl: string;
      readonly token: string;
      readonly devices: readonly { readonly id: string; readonly secret: string }[];
    }
  | {
      readonly type: 'baseline';
      readonly topic: string;
      readonly bytes: number;
      /** The identity the baseline's subscribers connect with (see Fleet.baselineSubscribe). */
      readonly subscriber: BaselineSubscriber;
    }
  | CommonParentMessage;

export interface BaselineSubscriber {
  readonly username: string;
  readonly password: string;
  /** Client ids are this, the process id and a count (the broker may reserve a prefix). */
  readonly clientIdPrefix: string;
}

export type WorkerMessage =
  CommonWorkerMessage | { readonly type: 'baselineReady' } | { readonly type: 'baselineDone' };

/** The worker's own memory figures, as it reports them. */
export function memoryMessage(
  sessions?: ReadonlyMap<string, number>,
): Extract<CommonWorkerMessage, { type: 'memory' }> {
  const m = process.memoryUsage();
  return {
    type: 'memory',
    pid: process.pid,
    rss: m.rss,
    heapUsed: m.heapUsed,
    ...(sessions
      ? {
          sessions: {
            open: sessions.size,
            refs: [...sessions.values()].reduce((a, b) => a + b, 0),
          },
        }
      : {}),
  };
}
