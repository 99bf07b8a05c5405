// SIGTERM / SIGINT on the real programs (`bmfleet agent`, `bmfleet controller` as child
// processes): each stops whatever its peer's state (gone, frozen, still connected), and a second
// signal ends it at once with a non-zero code. A stop that finishes in time exits 0; one that
// overran the 5 s grace would exit 1 (cli/shutdown.ts), so the exit code is the check, not a
// clock. Every child is killed in teardown, also when an assertion fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import { createKeystore } from '../../shared/trust/keystore.js';
import { waitForValue } from '../../harness/wait.js';
import { freePort, tempDir } from '../../harness/controller/test-controller.js';

const ROOT = new URL('../../', import.meta.url).pathname;

interface Child {
  readonly proc: ChildProcess;
  readonly out: string[];
  /** Log messages (the `msg` of each JSON line on stderr). */
  readonly log: string[];
  /** Anything on stderr that is not a log line (warnings, stack traces). */
  readonly stray: string[];
  exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnCli(t: Test, args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'cli/entry.ts', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const child: Child = {
    proc,
    out: [],
    log: [],
    stray: [],
    exit: async () => {
      const from = performance.now();
      if (proc.exitCode === null && proc.signalCode === null) await once(proc, 'exit');
      // Shown, not asserted (no wall-clock assertions): the exit code is the check.
      t.comment(
        `${args[0]} exited ${proc.exitCode} after ${Math.round(performance.now() - from)} ms`,
      );
      return { code: proc.exitCode, signal: proc.signalCode };
    },
  };
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) =>
    child.out.push(l),
  );
  createInterface({ input: proc.stderr as NodeJS.ReadableStream }).on('line', (l) => {
    try {
      child.log.push((JSON.parse(l) as { msg: string }).msg);
    } catch {
      child.stray.push(l);
    }
  });
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return child;
}

const saw = (lines: readonly string[], start: string) => () =>
  lines.some((l) => l.startsWith(start)) || undefined;

/** A controller child on free ports, and a way to enrol devices and write their configs. */
async function startControllerChild(t: Test) {
  const dataDir = await tempDir('bmf-shutdown-');
  await createKeystore(join(dataDir, 'keys')).init({ now: new Date() });
  const [apiPort, brokerPort] = [await freePort(), await freePort()];
  const configPath = join(dataDir, 'controller.json');
  await writeFile(
    configPath,
    JSON.stringify({ dataDir, api: { port: apiPort }, broker: { embedded: { port: brokerPort } } }),
  );
  const controller = spawnCli(t, ['controller', '--config', configPath]);
  await waitForValue('controller ready', saw(controller.out, 'controller ready'), 60_000);
  const token = (await readFile(join(dataDir, 'operator-token'), 'utf8')).trim();
  /** Enrols `id` and writes its agent.json (broker at `brokerUrl`); returns the path. */
  const enrol = async (id: string, brokerUrl = `mqtt://127.0.0.1:${brokerPort}`) => {
    const added = (await (
      await fetch(`http://127.0.0.1:${apiPort}/v1/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id, chip: 'bm1684x' }),
      })
    ).json()) as { agentConfig: Record<string, unknown>; trustRoot: unknown };
    const agentDir = join(dataDir, id);
    await mkdir(agentDir, { recursive: true });
    await writeFile(join(agentDir, 'root.json'), JSON.stringify(added.trustRoot));
    const path = join(agentDir, 'agent.json');
    await writeFile(
      path,
      JSON.stringify({
        ...added.agentConfig,
        broker: { ...(added.agentConfig.broker as object), url: brokerUrl },
        stateDir: join(agentDir, 'state'),
        rootFile: join(agentDir, 'root.json'),
        runtime: 'sim',
        api: { enabled: false },
      }),
    );
    return path;
  };
  return { controller, brokerPort, enrol };
}

async function startAgent(t: Test, configPath: string): Promise<Child> {
  const agent = spawnCli(t, ['agent', '--config', configPath]);
  await waitForValue('agent connected', saw(agent.log, 'connected to the broker'), 60_000);
  return agent;
}

/** A TCP relay to the broker that can freeze: sockets stay open, nothing passes any more. */
async function freezableRelay(t: Test, port: number) {
  let frozen = false;
  const pairs: Socket[] = [];
  const server: Server = createServer((inbound) => {
    const outbound = connect(port, '127.0.0.1');
    pairs.push(inbound, outbound);
    for (const [from, to] of [
      [inbound, outbound],
      [outbound, inbound],
    ] as const) {
      from.on('data', (d: Buffer) => {
        if (!frozen) to.write(d);
      });
      from.on('error', () => undefined);
      from.on('close', () => to.destroy());
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const s of pairs) s.destroy();
    server.close();
  });
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    freeze: () => (frozen = true),
  };
}

// One controller and three agents (started together: each child takes seconds to start), then
// a second controller for the double signal.
t.test('stop on SIGTERM/SIGINT whatever the peer, and at once on a second signal', async (t) => {
  const { controller, brokerPort, enrol } = await startControllerChild(t);
  const relay = await freezableRelay(t, brokerPort);
  const [stays, frozen, twice] = await Promise.all(
    [enrol('sd-stays'), enrol('sd-frozen', relay.url), enrol('sd-twice', relay.url)].map(
      async (config) => startAgent(t, await config),
    ),
  );
  if (!stays || !frozen || !twice) throw new Error('agents not started');

  // The broker freezes: connected sockets, nothing passes. The agent's final presence publish
  // and its disconnect are bounded, so it still stops in time.
  relay.freeze();
  frozen.proc.kill('SIGTERM');
  t.equal((await frozen.exit()).code, 0, 'frozen broker: stopped in time, exit 0');
  t.ok(frozen.log.includes('agent stopped'), 'by the ordered stop, not the watchdog');

  // A second signal while the stop waits on that broker: the process ends at once.
  twice.proc.kill('SIGTERM');
  await waitForValue('stop under way', saw(twice.log, 'SIGTERM: stopping'), 30_000);
  twice.proc.kill('SIGINT');
  t.equal((await twice.exit()).code, 130, 'second signal: exit 128 + SIGINT');
  t.ok(twice.log.includes('SIGINT again: exiting at once'));
  t.notOk(twice.log.includes('agent stopped'), 'the ordered stop did not get to finish');

  // The controller stops while an agent is still connected to its broker.
  controller.proc.kill('SIGTERM');
  t.equal((await controller.exit()).code, 0, 'controller with an agent connected: exit 0');
  t.ok(controller.log.includes('controller stopped'), 'by the ordered stop');

  // The agent, its controller gone, is stopped in turn (as a service manager stops both).
  await waitForValue('loss seen', saw(stays.log, 'lost the connection'), 30_000);
  t.equal(stays.proc.exitCode, null, 'the agent kept running without its controller');
  stays.proc.kill('SIGTERM');
  t.equal((await stays.exit()).code, 0, 'controller gone: stopped in time, exit 0');
  t.ok(stays.log.includes('agent stopped'));
  for (const a of [stays, frozen, twice]) {
    t.same(
      a.stray.filter((l) => /Warning/.test(l)),
      [],
      'no process warning (MaxListenersExceededWarning or other)',
    );
  }
});

t.test('a second signal ends the controller at once', async (t) => {
  const { controller } = await startControllerChild(t);
  controller.proc.kill('SIGINT');
  controller.proc.kill('SIGTERM');
  const { code } = await controller.exit();
  t.not(code, 0, `non-zero exit (${code})`);
});
