// The agent config of one simulated device: what enrolment returned (identity, broker URL and
// credentials), with the parts a simulated board differs in: its own state dir, the pinned root
// written there, the simulator runtime, and no local HTTP API (hundreds of agents share a host).
// Validated and frozen like every agent config (shared/config/load.ts).
import { join } from 'node:path';
import { AgentConfigSchema, type AgentConfig } from '../agent/config.js';
import { deepFreeze, validateConfig } from '../shared/config/load.js';
import type { AgentsStart } from './protocol.js';

export function simulatedAgentConfig(
  device: AgentsStart['devices'][number],
  start: Pick<AgentsStart, 'stateRoot' | 'timing' | 'telemetryIntervalMs'>,
): Readonly<AgentConfig> {
  const stateDir = join(start.stateRoot, device.id);
  const given = device.agentConfig as { telemetry?: Record<string, unknown> };
  const config = validateConfig(AgentConfigSchema, {
    ...device.agentConfig,
    stateDir,
    rootFile: join(stateDir, 'root.json'),
    runtime: 'sim',
    timing: start.timing,
    api: { enabled: false },
    ...(start.telemetryIntervalMs !== undefined
      ? { telemetry: { ...given.telemetry, intervalMs: start.telemetryIntervalMs } }
      : {}),
  });
  return deepFreeze(config);
}
