// The fleet simulator: enrol N devices through the controller's REST API (exactly like
// `bmfleet device add`), then run them in P child processes (worker.ts) so the controller and
// broker see N real MQTT connections. Progress arrives over IPC.
import { bmfError } from '../../shared/errors.js';
import { enrolDevices, simulatedDeviceIds, type SimulatedFleetOptions } from './enrol.js';
import { siblingWorker, startFleetProcesses, type ProcessMemory } from './processes.js';
import type { BaselineSubscriber, ParentMessage, WorkerMessage } from './protocol.js';

export type FleetOptions = SimulatedFleetOptions;

export interface Fleet {
  readonly ids: readonly string[];
  readonly brokerUrl: string;
  /** Resolves when every device reported `bundle` active. */
  allActive(bundle: string): Promise<void>;
  /**
   * Benchmark baseline: each process opens one more connection per device it runs, as
   * `subscriber`, and subscribes it to `topic`; resolves once they all have. Not the devices'
   * own connections: the broker lets a device read a blob's chunks only when the blob is in its
   * assignment, and the baseline's topic names no real blob.
   */
  baselineSubscribe(
    topic: string,
    bytes: number,
    subscriber: BaselineSubscriber,
  ): Promise<{ done: Promise<void> }>;
  /** Memory of every simulator process, as each reports it. */
  memory(): Promise<ProcessMemory[]>;
  stop(): Promise<void>;
}

export async function startFleet(o: FleetOptions): Promise<Fleet> {
  const ids = simulatedDeviceIds(o.prefix ?? 'sim', o.devices, o.offset ?? 0);
  const enrolled = await enrolDevices(
    { controllerUrl: o.controllerUrl, token: o.token, chip: o.chip, tags: o.tags },
    ids,
  );
  const brokerUrl = enrolled[0]?.agentConfig.broker.url ?? '';
  // Enrolled against a cluster, devices fail over to its other nodes as agents do.
  const failoverUrls = enrolled[0]?.agentConfig.broker.failoverUrls ?? [];
  const per = Math.ceil(ids.length / Math.max(1, o.processes));
  const starts: Extract<ParentMessage, { type: 'start' }>[] = [];
  for (let p = 0; p * per < enrolled.length; p++) {
    starts.push({
      type: 'start',
      brokerUrl,
      failoverUrls,
      apiUrl: o.controllerUrl,
      token: o.token,
      devices: enrolled.slice(p * per, (p + 1) * per).map((e) => ({ id: e.id, secret: e.secret })),
    });
  }
  const procs = await startFleetProcesses<(typeof starts)[number], ParentMessage, WorkerMessage>({
    worker: siblingWorker(import.meta.url, 'worker'),
    starts,
    ...(o.onActive ? { onActive: o.onActive } : {}),
    ...(o.onStarted ? { onStarted: o.onStarted } : {}),
    stopTimeoutMs: 5000,
  });

  return {
    ids,
    brokerUrl,
    allActive: (bundle) => procs.allActive(ids, bundle),
    async baselineSubscribe(topic, bytes, subscriber) {
      const workers = procs.children.length;
      let ready = 0;
      let done = 0;
      let onReady!: () => void;
      let onFail!: (e: Error) => void;
      let onDone!: () => void;
      const allReady = new Promise<void>((resolve, reject) => {
        onReady = resolve;
        onFail = reject;
      });
      const allDone = new Promise<void>((r) => (onDone = r));
      const unlisten = procs.listen((m) => {
        if (m.type === 'baselineReady' && ++ready === workers) onReady();
        if (m.type === 'baselineDone' && ++done === workers) onDone();
        if (m.type === 'error') onFail(bmfError('BMF_ERR_INTERNAL', { reason: m.message }));
      });
      procs.send({ type: 'baseline', topic, bytes, subscriber });
      try {
        await allReady;
      } catch (e) {
        unlisten();
        throw e;
      }
      return { done: allDone.finally(unlisten) };
    },
    memory: () => procs.memory(),
    stop: () => procs.stop(),
  };
}
