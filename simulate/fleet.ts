// The real-agent fleet simulator (`bmfleet simulate --agents real`): enrol N devices through the
// controller's REST API exactly like `bmfleet device add`, then run the agent program itself
// (agent/agent.ts: chunked fetch, verification, golden gate, hot-swap, telemetry) for each in P
// child processes (worker.ts), N/P agents per process, each agent with its own state dir under
// one base dir, on the simulator runtime. Progress arrives over IPC. The lightweight
// wire-protocol devices of simulate/wire-devices scale further; these exercise the real agent.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  enrolDevices,
  simulatedDeviceIds,
  type SimulatedFleetOptions,
} from './wire-devices/enrol.js';
import {
  siblingWorker,
  startFleetProcesses,
  type ProcessMemory,
} from './wire-devices/processes.js';
import type { AgentsParentMessage, AgentsStart } from './protocol.js';

export interface AgentFleetOptions extends SimulatedFleetOptions {
  /** Base of the agents' state dirs; a new temp dir (removed by stop) when absent. */
  readonly stateRoot?: string;
  /** Simulator timing: `modeled` (the default) reports the cost model's device latency. */
  readonly timing?: 'modeled' | 'host';
  readonly telemetryIntervalMs?: number;
  /** Agent log lines on the workers' stderr. */
  readonly verbose?: boolean;
}

export interface AgentFleet {
  readonly ids: readonly string[];
  readonly brokerUrl: string;
  readonly stateRoot: string;
  /** Resolves when every agent serves `bundle` as variant A; rejects if a process dies. */
  allActive(bundle: string): Promise<void>;
  /** Memory of every simulator process, as each reports it. */
  memory(): Promise<ProcessMemory[]>;
  stop(): Promise<void>;
}

export async function startAgentFleet(o: AgentFleetOptions): Promise<AgentFleet> {
  const ids = simulatedDeviceIds(o.prefix ?? 'sim', o.devices, o.offset ?? 0);
  const enrolled = await enrolDevices(
    { controllerUrl: o.controllerUrl, token: o.token, chip: o.chip, tags: o.tags },
    ids,
  );
  const ownRoot = o.stateRoot === undefined;
  const stateRoot = o.stateRoot ?? (await mkdtemp(join(tmpdir(), 'bmfleet-sim-agents-')));
  const per = Math.ceil(ids.length / Math.max(1, o.processes));
  const starts: AgentsStart[] = [];
  for (let p = 0; p * per < enrolled.length; p++) {
    starts.push({
      type: 'start',
      stateRoot,
      timing: o.timing ?? 'modeled',
      ...(o.telemetryIntervalMs !== undefined
        ? { telemetryIntervalMs: o.telemetryIntervalMs }
        : {}),
      verbose: o.verbose ?? false,
      devices: enrolled.slice(p * per, (p + 1) * per).map((e) => ({
        id: e.id,
        agentConfig: e.agentConfig,
        trustRoot: e.trustRoot,
      })),
    });
  }
  const removeRoot = () =>
    ownRoot ? rm(stateRoot, { recursive: true, force: true }) : Promise.resolve();
  const p = await startFleetProcesses<AgentsStart, AgentsParentMessage>({
    worker: siblingWorker(import.meta.url, 'worker'),
    starts,
    ...(o.onActive ? { onActive: o.onActive } : {}),
    ...(o.onStarted ? { onStarted: o.onStarted } : {}),
  }).catch(async (e: unknown) => {
    await removeRoot();
    throw e;
  });
  return {
    ids,
    brokerUrl: enrolled[0]?.agentConfig.broker.url ?? '',
    stateRoot,
    allActive: (bundle) => p.allActive(ids, bundle),
    memory: () => p.memory(),
    async stop() {
      await p.stop();
      await removeRoot();
    },
  };
}
