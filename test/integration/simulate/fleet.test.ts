// The fleet simulators against a real listening controller: devices enrolled over the REST API,
// the agent program in two child processes (simulator runtime, modeled timing) taking a signed
// bundle through a rollout until every agent serves it; then `bmfleet simulate` as a process
// with real agents and with the lightweight devices, driven the same way and stopped by SIGTERM.
import t from 'tap';
import type { Test } from 'tap';
import { access, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBundle } from '../../../shared/bundle/build.js';
import { signBundleDir } from '../../../shared/bundle/dir.js';
import { createKeystore } from '../../../shared/trust/keystore.js';
import { encodeGoldenFile } from '../../../agent/serve/golden-file.js';
import { startAgentFleet } from '../../../simulate/fleet.js';
import { waitForValue } from '../../../harness/wait.js';
import { startTestController, tempDir } from '../../../harness/controller/test-controller.js';
import { goldenSet, sha256, tinyBmodel } from '../../../harness/agent/models.js';
import { spawnForTest } from '../../../harness/processes.js';

const FIXTURES = new URL('../../fixtures/simulate/', import.meta.url).pathname;
const ROOT = new URL('../../../', import.meta.url).pathname;

const ctl = await startTestController();
t.teardown(async () => {
  await ctl.handle.stop();
  await rm(ctl.dataDir, { recursive: true, force: true });
});
const base = ctl.handle.apiUrl;
const headers = { ...ctl.auth, 'content-type': 'application/json' };
async function post<T>(path: string, body: unknown): Promise<T> {
  const r = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  if (r.status >= 300) throw new Error(`POST ${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}
const get = async <T>(path: string): Promise<T> =>
  (await (await fetch(`${base}${path}`, { headers: ctl.auth })).json()) as T;
const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** The tiny simulator BMODEL and its golden set as a bundle signed with the controller's key. */
async function pushTinyBundle(): Promise<{ digest: string; bmodelSha256: string }> {
  const work = await tempDir('bmf-sim-bundle-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const bmodel = tinyBmodel('tiny-a');
  await writeFile(join(work, 'model.bmodel'), bmodel);
  await writeFile(join(work, 'golden.json'), encodeGoldenFile(goldenSet()));
  const out = join(work, 'bundle');
  await buildBundle({
    files: [
      { role: 'bmodel', source: join(work, 'model.bmodel') },
      { role: 'golden', source: join(work, 'golden.json') },
    ],
    partial: JSON.parse(await readFile(join(FIXTURES, 'partial-manifest.json'), 'utf8')),
    outDir: out,
    now: new Date(),
  });
  const keys = createKeystore(join(ctl.dataDir, 'keys'));
  const { digest } = await signBundleDir(out, await keys.signers('bundle'));
  await post('/v1/bundles', { dir: out });
  return { digest, bmodelSha256: sha256(bmodel) };
}

async function rolloutCompleted(id: string): Promise<void> {
  await waitForValue(
    `rollout ${id} completed`,
    async () => {
      const r = await get<{ status: string }>(`/v1/rollouts/${id}`);
      if (!['running', 'completed'].includes(r.status)) throw new Error(`rollout ${r.status}`);
      return r.status === 'completed' ? true : undefined;
    },
    120_000,
  );
}

const bundle = await pushTinyBundle();

t.test('6 real agents in 2 processes take a rollout', async (t) => {
  const started: number[] = [];
  const fleet = await startAgentFleet({
    controllerUrl: base,
    token: ctl.token,
    devices: 6,
    processes: 2,
    prefix: 'real',
    tags: { sim: 'real' },
    telemetryIntervalMs: 1000,
    onStarted: (n) => started.push(n),
  });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : fleet.stop()));
  t.same(fleet.ids, [
    'real-00000',
    'real-00001',
    'real-00002',
    'real-00003',
    'real-00004',
    'real-00005',
  ]);
  t.equal(started.at(-1), 6, `start progress over IPC: ${started.join(', ')}`);
  const before = await fleet.memory();
  t.equal(before.length, 2, 'two worker processes');
  t.not(before[0]?.pid, before[1]?.pid);
  t.notOk(
    before.some((m) => m.pid === process.pid),
    'agents run outside this process',
  );
  for (const id of fleet.ids) {
    t.same(
      JSON.parse(await readFile(join(fleet.stateRoot, id, 'root.json'), 'utf8')),
      JSON.parse(await readFile(join(ctl.dataDir, 'keys/root.json'), 'utf8')),
      `${id} pinned the enrolment's trust root in its own state dir`,
    );
  }
  await waitForValue('every agent online', async () => {
    const { devices } = await get<{ devices: { id: string; online: boolean }[] }>('/v1/devices');
    return fleet.ids.every((id) => devices.find((d) => d.id === id)?.online) ? true : undefined;
  });

  const rollout = await post<{ id: string }>('/v1/rollouts', {
    bundle: bundle.digest,
    filter: { tags: { sim: 'real' } },
    groups: [{ count: 2 }, { percent: 100 }],
    deviceTimeoutMs: 60_000,
  });
  await fleet.allActive(bundle.digest);
  await rolloutCompleted(rollout.id);
  for (const id of fleet.ids) {
    const d = await get<{ activeBundle?: string; status?: string }>(`/v1/devices/${id}`);
    t.equal(d.activeBundle, bundle.digest, `${id}: the controller sees the bundle active`);
    t.ok(
      await exists(join(fleet.stateRoot, id, 'blobs', bundle.bmodelSha256)),
      `${id} fetched the BMODEL into its own blob store`,
    );
  }
  const after = await fleet.memory();
  for (const m of after) {
    t.same(m.sessions, { open: 1, refs: 3 }, `process ${m.pid}: 3 agents share one session`);
  }

  await fleet.stop();
  stopped = true;
  t.notOk(await exists(fleet.stateRoot), 'the temp state root is removed');
  await waitForValue('every agent offline', async () => {
    const { devices } = await get<{ devices: { id: string; online: boolean }[] }>('/v1/devices');
    return fleet.ids.every((id) => devices.find((d) => d.id === id)?.online === false)
      ? true
      : undefined;
  });
});

/** `bmfleet simulate` as its own process; resolves when it prints `needle`. */
/** Ended with its worker processes (its process group) when the test ends, whatever happens. */
function simulateCli(t: Test, args: readonly string[]) {
  const child = spawnForTest(
    t,
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'cli/entry.ts'), 'simulate', ...args],
    {
      cwd: ROOT,
      env: { ...process.env, BMFLEET_URL: base, BMFLEET_TOKEN: ctl.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const io = { out: '', err: '' };
  child.stdout?.on('data', (d: Buffer) => (io.out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (io.err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  const printed = (needle: string, ms: number) =>
    waitForValue(needle, () => (io.out.includes(needle) ? true : undefined), ms).catch(
      (e: Error) => {
        throw new Error(`${e.message}\nstdout: ${io.out}\nstderr: ${io.err}`);
      },
    );
  return { child, io, exited, printed };
}

for (const agents of ['real', 'light'] as const) {
  t.test(`bmfleet simulate --agents ${agents} --devices 4`, async (t) => {
    const prefix = `cli-${agents}`;
    const cli = simulateCli(t, [
      '--agents',
      agents,
      '--devices',
      '4',
      '--processes',
      '2',
      '--prefix',
      prefix,
      '--tag',
      `sim=${prefix}`,
    ]);
    await cli.printed('Ctrl-C stops', 60_000);
    t.match(cli.io.out, /started 4\/4/);
    t.match(
      cli.io.out,
      agents === 'real'
        ? /simulating 4 devices in 2 processes \(RSS \d+ MiB, \d+ MiB\): real agents/
        : /simulating 4 devices in 2 processes \(RSS \d+ MiB, \d+ MiB\): lightweight/,
    );
    const stateRoot = /state under (\S+)\)/.exec(cli.io.out)?.[1];
    if (agents === 'real')
      t.ok(
        await exists(join(stateRoot ?? '-', `${prefix}-00003`, 'root.json')),
        'per-agent state dirs',
      );

    const rollout = await post<{ id: string }>('/v1/rollouts', {
      bundle: bundle.digest,
      filter: { tags: { sim: prefix } },
      deviceTimeoutMs: 60_000,
    });
    await cli.printed(`all 4 devices active ${bundle.digest}`, 120_000);
    await rolloutCompleted(rollout.id);
    for (let i = 0; i < 4; i++)
      t.match(cli.io.out, `${prefix}-0000${i} active ${bundle.digest.slice(0, 12)}`);

    cli.child.kill('SIGTERM');
    t.equal(await cli.exited, 0, `exit 0 after SIGTERM; stderr: ${cli.io.err}`);
    if (stateRoot) t.notOk(await exists(stateRoot), 'the temp state root is removed');
  });
}

t.test('usage errors', async (t) => {
  const { main } = await import('../../../cli/main.js');
  const { PassThrough } = await import('node:stream');
  const run = async (...argv: string[]) => {
    const stderr = new PassThrough();
    let text = '';
    stderr.on('data', (d: Buffer) => (text += d.toString()));
    const code = await main({
      argv: ['simulate', ...argv],
      stdout: new PassThrough(),
      stderr,
      env: { BMFLEET_URL: base, BMFLEET_TOKEN: ctl.token },
    });
    return { code, text };
  };
  const cases: [string[], RegExp][] = [
    [['--devices', '0'], /--devices takes a whole number of at least 1, got "0"/],
    [['--devices', '2', '--agents', 'heavy'], /--agents must be real or light, not heavy/],
    [['--devices', '2', '--timing', 'wall'], /--timing must be modeled or host/],
    [['--devices', '2', '--agents', 'light', '--state-dir', '/tmp/x'], /apply to --agents real/],
  ];
  for (const [argv, message] of cases) {
    const r = await run(...argv);
    t.equal(r.code, 2, argv.join(' '));
    t.match(r.text, message);
  }
});
