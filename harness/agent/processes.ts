// Agents as real child processes (`bmfleet agent --config ... --verbose`) for crash and chaos
// tests: spawn one (through spawnForTest: its own process group, ended when its owner ends),
// follow its output and log lines and its local API address, ask what it serves, wait for its
// exit after kill -9.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Test } from 'tap';
import { exitOf, spawnForTest } from '../processes.js';

const ROOT = new URL('../../', import.meta.url);

export interface AgentChild {
  readonly proc: ChildProcess;
  readonly lines: string[];
  api: string | undefined;
}

/**
 * Starts an agent. `onLine` sees each stdout line and each log message (the log is JSON lines
 * on stderr; `--verbose` adds the reconcile step lines, `step fetch start` ...).
 */
export function spawnAgent(
  owner: Pick<Test, 'teardown'>,
  configPath: string,
  onLine: (line: string, child: AgentChild) => void,
): AgentChild {
  const proc = spawnForTest(
    owner,
    process.execPath,
    ['--import', 'tsx', 'cli/entry.ts', 'agent', '--config', configPath, '--verbose'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const child: AgentChild = { proc, lines: [], api: undefined };
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    child.lines.push(line);
    const m = /api (http:\/\/\S+)/.exec(line);
    if (m) child.api = m[1];
    onLine(line, child);
  });
  createInterface({ input: proc.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    let msg: string;
    try {
      msg = (JSON.parse(line) as { msg: string }).msg;
    } catch {
      process.stderr.write(`${line}\n`);
      return;
    }
    child.lines.push(msg);
    onLine(msg, child);
  });
  return child;
}

/** Bundle digest the agent's local API serves (variant A), undefined when none or unreachable. */
export async function serving(child: AgentChild): Promise<string | undefined> {
  if (!child.api) return undefined;
  try {
    // Bounded: a request to an agent being killed must not hang the wait that polls it.
    const res = await fetch(`${child.api}/v1/models`, { signal: AbortSignal.timeout(5_000) });
    const r = (await res.json()) as { models: { bundleDigest: string }[] };
    return r.models[0]?.bundleDigest;
  } catch {
    return undefined;
  }
}

export const exited = (child: AgentChild): Promise<void> => exitOf(child.proc);

/** kill -9 and wait for the exit. */
export async function killHard(child: AgentChild): Promise<void> {
  child.proc.kill('SIGKILL');
  await exited(child);
}
