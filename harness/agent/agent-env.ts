// A temporary agent environment: state directory, pinned root file, and a config pointing at
// a fake controller's broker.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentConfig } from '../../agent/config.js';
import { validateConfig } from '../../shared/config/load.js';
import { AgentConfigSchema } from '../../agent/config.js';
import { signedRoot } from './trust.js';
import type { TestKeys } from './trust.js';

export async function agentConfig(
  keys: TestKeys,
  brokerUrl: string,
  deviceId: string,
  overrides: Record<string, unknown> = {},
): Promise<AgentConfig> {
  const dir = await mkdtemp(join(tmpdir(), `bmf-agent-${deviceId}-`));
  const rootFile = join(dir, 'root.json');
  await writeFile(rootFile, JSON.stringify(signedRoot(keys)));
  return validateConfig(AgentConfigSchema, {
    deviceId,
    chip: 'bm1684x',
    broker: { url: brokerUrl, protocolVersion: 4 },
    stateDir: join(dir, 'state'),
    rootFile,
    runtime: 'sim',
    api: { port: 0 },
    telemetry: { intervalMs: 200 },
    fetch: { maxInFlight: 3, requestTimeoutMs: 300 },
    ...overrides,
  });
}

export { waitFor } from '../wait.js';
