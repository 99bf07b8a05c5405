// Demo step: a simulated fleet of real agents, enrolled exactly as real boards are: the operator
// adds each device through the REST API and gets back its credentials, broker URL and pinned
// trust root; the agent starts from that config (simulator runtime, modeled timing).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAgent, type Agent } from '../agent/agent.js';
import { AgentConfigSchema, type AgentConfig } from '../agent/config.js';
import { createSimSessionPool } from '../agent/runtime/session-pool.js';
import type { ControllerClient } from '../controller/api/client.js';
import { validateConfig } from '../shared/config/load.js';
import { parseDeviceId } from '../shared/ids.js';
import type { Logger } from '../shared/log.js';

export interface Fleet {
  readonly agents: readonly Agent[];
  stop(): Promise<void>;
}

export async function startFleet(opts: {
  readonly api: ControllerClient;
  readonly count: number;
  readonly stateRoot: string;
  readonly telemetryIntervalMs: number;
  readonly onStarted?: (n: number) => void;
  /** Agent logs (off by default: the demo prints its own progress). */
  readonly logger?: Logger;
}): Promise<Fleet> {
  const pool = createSimSessionPool();
  const agents: Agent[] = [];
  const stop = async () => {
    for (const a of agents.splice(0).reverse()) await a.stop().catch(() => undefined);
  };
  try {
    for (let i = 1; i <= opts.count; i++) {
      const id = parseDeviceId(`se7-${String(i).padStart(3, '0')}`);
      const site = i % 2 === 0 ? 'shenzhen' : 'berlin';
      const added = await opts.api.devices.add({
        id,
        chip: 'bm1684x',
        tags: { site },
      });
      const stateDir = join(opts.stateRoot, id);
      await mkdir(stateDir, { recursive: true });
      const rootFile = join(stateDir, 'root.json');
      await writeFile(rootFile, JSON.stringify(added.trustRoot));
      const config: AgentConfig = validateConfig(AgentConfigSchema, {
        ...added.agentConfig,
        stateDir,
        rootFile,
        runtime: 'sim',
        timing: 'modeled',
        api: { enabled: false },
        telemetry: { intervalMs: opts.telemetryIntervalMs },
      });
      const agent = createAgent(config, {
        pool,
        ...(opts.logger ? { logger: opts.logger } : {}),
      });
      await agent.start();
      agents.push(agent);
      opts.onStarted?.(agents.length);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { agents, stop };
}
