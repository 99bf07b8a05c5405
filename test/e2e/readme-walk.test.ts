// README's "Working with bmfleet", command by command as written, in a fresh folder holding the
// Fashion-MNIST example under the names README uses. Each line runs through bash with `bmfleet`
// on PATH (bin/bmfleet.js); the controller, the agent and the simulator are started in the
// background and ended at the end (or on failure). What the walk changes, and why:
// - ports: the controller, broker and agent API get free ports (variables, and the curl URL), so
//   the walk can run beside other tests;
// - optional parts are left out: `[...]` alternatives, `umodel export|calibrate|...` (a pattern,
//   not a command), `npm run build:native` (optional);
// - DIGEST, DIGEST_A, DIGEST_B become 12-character prefixes of the pushed bundles, as
//   `bmfleet model bundles` prints them;
// - the agent gets the `--state-dir` the README comment gives for this machine;
// - simulate runs 3 devices instead of 50 (a 2-core machine shared with the suite).
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../harness/controller/test-controller.js';
import { waitFor } from '../../harness/wait.js';

const repo = new URL('../../', import.meta.url).pathname;
const readme = await readFile(join(repo, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Working with bmfleet'));
const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';

/** Commands of the block: continuations joined, comments and optional `[...]` parts dropped. */
function commandsOf(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/\s+#\s.*$/, '').trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.replace(/\s*\[[^\]]*\]/g, '').trim());
}

const commands = commandsOf(block);
t.ok(commands.length >= 20, `${commands.length} commands in README's block`);

const dir = await mkdtemp(join(tmpdir(), 'bmf-readme-walk-'));
const children: ChildProcess[] = [];

async function stopAll(): Promise<void> {
  for (const c of children.splice(0).reverse()) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
t.teardown(async () => {
  await stopAll();
  await rm(dir, { recursive: true, force: true });
});
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

// The folder a user would have: their model and data under README's names.
const example = join(repo, 'examples', 'fashion-mnist');
await cp(join(example, 'model.onnx'), join(dir, 'm.onnx'));
await cp(join(example, 'preprocess.json'), join(dir, 'spec.json'));
await cp(join(example, 'labels.txt'), join(dir, 'labels.txt'));
await cp(join(example, 'calibration'), join(dir, 'cal'), { recursive: true });
await cp(join(example, 'eval'), join(dir, 'eval'), { recursive: true });
const bin = join(dir, '.bin');
await mkdir(bin);
await writeFile(
  join(bin, 'bmfleet'),
  `#!/bin/sh\nexec "${process.execPath}" "${join(repo, 'bin', 'bmfleet.js')}" "$@"\n`,
);
await chmod(join(bin, 'bmfleet'), 0o755);

const [apiPort, brokerPort, agentPort] = [await freePort(), await freePort(), await freePort()];
const env: Record<string, string> = {
  ...(process.env as Record<string, string>),
  PATH: `${bin}:${process.env.PATH ?? ''}`,
  BMFLEET_API_PORT: String(apiPort),
  BMFLEET_BROKER_EMBEDDED_PORT: String(brokerPort),
  BMFLEET_URL: `http://127.0.0.1:${apiPort}`,
  BMFLEET_AGENT_API_PORT: String(agentPort),
};

interface Result {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

function run(command: string): Result {
  const r = spawnSync('bash', ['-c', command], { cwd: dir, env, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Start in the background; resolve once `ready` shows in its output. */
async function background(command: string, ready: RegExp, ms = 120_000): Promise<ChildProcess> {
  const child = spawn('bash', ['-c', `exec ${command}`], { cwd: dir, env });
  children.push(child);
  let text = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command}: not ready:\n${text}`)), ms);
    const seen = (d: Buffer) => {
      text += d.toString();
      if (ready.test(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', seen);
    child.stderr?.on('data', seen);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited ${code}:\n${text}`));
    });
  });
  return child;
}

const digests: Record<string, string> = {};

t.test('README commands, in order', async (t) => {
  for (const raw of commands) {
    if (/^bmfleet umodel |^npm run build:native/.test(raw)) continue;
    let command = raw
      .replace(/\bDIGEST_A\b/, digests.fp32 ?? 'DIGEST_A')
      .replace(/\bDIGEST_B\b/, digests.int8 ?? 'DIGEST_B')
      .replace(/\bDIGEST\b/, digests.fp32 ?? 'DIGEST')
      .replace('http://127.0.0.1:8470', `http://127.0.0.1:${agentPort}`);
    if (command.startsWith('bmfleet controller')) {
      await background(command, /controller ready/);
      t.pass(command);
      continue;
    }
    if (command.startsWith('bmfleet agent')) {
      await background(`${command} --state-dir agent-state`, /agent \S+ ready/);
      t.pass(command);
      continue;
    }
    if (command.startsWith('bmfleet simulate')) {
      command = command.replace('--devices 50', '--devices 3');
      const sim = await background(command, /simulating 3 devices/, 240_000);
      const exited = new Promise((r) => sim.once('exit', r));
      sim.kill('SIGINT');
      await exited;
      t.pass(command);
      continue;
    }
    const r = run(command);
    if (command.startsWith('bmfleet experiment promote')) {
      // README: "once the report has enough samples"; one curl is not enough, and it says so.
      t.match(r.err, /BMF_ERR_EXPERIMENT_UNDERPOWERED|^$/, command);
      continue;
    }
    t.equal(r.code, 0, `${command}\n${r.err}`);
    if (r.code !== 0) return;
    if (command.startsWith('bmfleet model bundles')) {
      for (const m of r.out.matchAll(/^([0-9a-f]{12})\s+m\s+\S+\s+\d+\s+(fp32|int8)/gm)) {
        digests[m[2]!] = m[1]!;
      }
      t.ok(digests.fp32 && digests.int8, 'both bundles listed');
    }
    if (command.startsWith('curl')) t.match(JSON.parse(r.out), { topK: [{ label: String }] });
    if (command.startsWith('bmfleet rollout create')) {
      t.match(r.out, /running/);
      // The agent installs what the rollout assigned; wait for it, not for a time.
      let list = '';
      await waitFor(
        'the agent to run the rollout bundle',
        () => {
          list = run('bmfleet device list').out;
          return new RegExp(`se7-001.*yes.*active\\s+${digests.fp32}`).test(list);
        },
        120_000,
      ).catch((e: Error) => t.fail(`${e.message}:\n${list}`));
    }
  }
});

t.test('the files a user gets', async (t) => {
  const agent = JSON.parse(await readFile(join(dir, 'agent.json'), 'utf8'));
  t.equal(agent.deviceId, 'se7-001');
  t.ok(agent.root?.signed, 'agent.json carries the trust root');
  t.same(agent.root, JSON.parse(await readFile(join(dir, 'keys', 'root.json'), 'utf8')));
});
