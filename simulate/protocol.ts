// Messages from the real-agent simulator's parent (fleet.ts) to its worker processes (IPC). The
// workers answer with the common worker messages of simulate/wire-devices/protocol.ts.
import type { CommonParentMessage } from './wire-devices/protocol.js';
import type { Enrolment } from './wire-devices/enrol.js';

export interface AgentsStart {
  readonly type: 'start';
  /** Each device's state dir is `stateRoot/<id>`. */
  readonly stateRoot: string;
  readonly timing: 'modeled' | 'host';
  /** Telemetry interval of every agent (the agent's default when absent). */
  readonly telemetryIntervalMs?: number;
  /** Agent log lines on the worker's stderr. */
  readonly verbose: boolean;
  readonly devices: readonly Pick<Enrolment, 'id' | 'agentConfig' | 'trustRoot'>[];
}

export type AgentsParentMessage = AgentsStart | CommonParentMessage;
