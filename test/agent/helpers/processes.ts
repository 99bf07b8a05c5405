// Agents as real child processes (`bmfleet agent --config ... --verbose`) for crash and chaos
// tests: spawn one, follow its output lines and local API address, ask what it serves, wait
// for its exit after kill -9.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const ROOT = new URL('../../../', import.meta.url);

export interface AgentChild {
  readonly proc: ChildProcess;
  readonly lines: string[];
  api: string | undefined;
}

export function spawnAgent(
  configPath: string,
  onLine: (line: string, child: AgentChild) => void,
): AgentChild {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', 'cli/entry.ts', 'agent', '--config', configPath, '--verbose'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const child: AgentChild = { proc, lines: [], api: undefined };
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    child.lines.push(line);
    const m = /api (http:\/\/\S+)/.exec(line);
    if (m) child.api = m[1];
    onLine(line, child);
  });
  return child;
}

/** Bundle digest the agent's local API serves (variant A), undefined when none or unreachable. */
export async function serving(child: AgentChild): Promise<string | undefined> {
  if (!child.api) return undefined;
  try {
    const r = (await (await fetch(`${child.api}/v1/models`)).json()) as {
      models: { bundleDigest: string }[];
    };
    return r.models[0]?.bundleDigest;
  } catch {
    return undefined;
  }
}

export function exited(child: AgentChild): Promise<void> {
  return new Promise((resolve) => {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) resolve();
    else child.proc.once('exit', () => resolve());
  });
}

/** kill -9 and wait for the exit. */
export async function killHard(child: AgentChild): Promise<void> {
  child.proc.kill('SIGKILL');
  await exited(child);
}
