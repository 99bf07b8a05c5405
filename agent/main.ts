// The agent program: load and validate the config, build the agent (agent.ts builds its parts in
// a fixed order and tears them down in reverse), run until the signal, stop. Several agents can
// run in one process by calling `startAgents` with several configs and one shared session pool.
import type { Agent, AgentDeps } from './agent.js';
import { createAgent } from './agent.js';
import type { AgentConfig } from './config.js';
import { createSimSessionPool } from './runtime/session-pool.js';

export async function startAgents(
  configs: readonly Readonly<AgentConfig>[],
  deps: AgentDeps = {},
): Promise<Agent[]> {
  const pool = deps.pool ?? createSimSessionPool();
  const started: Agent[] = [];
  try {
    for (const config of configs) {
      const agent = createAgent(config, { ...deps, pool });
      await agent.start();
      started.push(agent);
    }
  } catch (e) {
    for (const agent of started.reverse()) await agent.stop().catch(() => undefined);
    throw e;
  }
  return started;
}

/** Runs the agents until `signal` aborts, then stops them in reverse order. */
export async function runAgents(
  configs: readonly Readonly<AgentConfig>[],
  signal: AbortSignal,
  deps: AgentDeps = {},
): Promise<void> {
  const agents = await startAgents(configs, deps);
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  for (const agent of agents.reverse()) await agent.stop();
}
