// One process of the real-agent simulator: runs its share of agents (agent/agent.ts, the program
// a board runs) on the simulator runtime, all sharing one session pool so agents holding the same
// BMODEL share one onnxruntime session, and reports progress to the parent over IPC: agents
// started, ready, and each time an agent's serving variant A changes to another bundle.
import { mkdir, writeFile } from 'node:fs/promises';
import { createAgent, type Agent } from '../agent/agent.js';
import { createSimSessionPool } from '../agent/runtime/session-pool.js';
import { toBmfError } from '../shared/errors.js';
import { createLogger, type Logger } from '../shared/log.js';
import { memoryMessage, type CommonWorkerMessage } from './wire-devices/protocol.js';
import { simulatedAgentConfig } from './config.js';
import type { AgentsParentMessage, AgentsStart } from './protocol.js';

// Agents started at once: each start touches the disk (state, blob store, outboxes) and opens
// an MQTT connection.
const START_BATCH = 10;

const send = (m: CommonWorkerMessage): void => void process.send?.(m);
const pool = createSimSessionPool();
const agents: Agent[] = [];
let stopping = false;
/** Agent log lines on this worker's stderr (`--verbose`), one format with the real agent's. */
let logger: Logger | undefined;

/** Reports variant A whenever the agent settles with a different bundle serving. */
async function watch(agent: Agent): Promise<void> {
  let reported: string | undefined;
  while (!stopping) {
    const bundle = agent.service.ready() ? agent.state().active.A : undefined;
    if (bundle && bundle !== reported) {
      reported = bundle;
      send({ type: 'active', id: agent.config.deviceId, bundle });
    }
    // Resolves each time the reconcile loop has nothing left to do (after an activation too).
    await agent.whenIdle();
  }
}

async function startOne(m: AgentsStart, device: AgentsStart['devices'][number]): Promise<Agent> {
  const config = simulatedAgentConfig(device, m);
  await mkdir(config.stateDir, { recursive: true });
  await writeFile(config.rootFile, JSON.stringify(device.trustRoot));
  const agent = createAgent(config, { pool, ...(logger ? { logger } : {}) });
  await agent.start();
  return agent;
}

async function start(m: AgentsStart): Promise<void> {
  if (m.verbose) logger = createLogger({ program: 'agent', level: 'debug' });
  for (let i = 0; i < m.devices.length && !stopping; i += START_BATCH) {
    const batch = m.devices.slice(i, i + START_BATCH);
    const results = await Promise.allSettled(batch.map((d) => startOne(m, d)));
    for (const r of results) {
      if (r.status !== 'fulfilled') continue;
      agents.push(r.value);
      void watch(r.value);
    }
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    send({ type: 'started', devices: agents.length });
  }
  send({ type: 'ready', devices: agents.length });
}

async function stop(): Promise<void> {
  stopping = true;
  await Promise.all(agents.splice(0).map((a) => a.stop().catch(() => undefined)));
  process.exit(0);
}

process.on('message', (m: AgentsParentMessage) => {
  if (m.type === 'start')
    void start(m).catch((e: unknown) => {
      const err = toBmfError(e);
      send({ type: 'error', message: `${err.code}: ${err.message}` });
    });
  else if (m.type === 'memory') send(memoryMessage(pool.snapshot()));
  else if (m.type === 'stop') void stop();
});
process.on('disconnect', () => void stop());
