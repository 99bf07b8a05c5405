// The controller as a real child process (`bmfleet controller --config ...`), killed with
// SIGKILL in the middle of a rollout and started again on the same data dir: the rollout must
// continue from its persisted state to completion, without re-running the finished group.
import t from 'tap';
import type { ChildProcess } from 'node:child_process';
import type { Test } from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createKeystore } from '../../../shared/trust/keystore.js';
import {
  connectFakeDevice,
  freePort,
  makeSignedBundle,
  tempDir,
  waitFor,
} from '../../../harness/controller/test-controller.js';
import { spawnForTest } from '../../../harness/processes.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

async function startChild(t: Test, configPath: string): Promise<ChildProcess> {
  const child = spawnForTest(
    t,
    process.execPath,
    ['--import', 'tsx', 'cli/entry.ts', 'controller', '--config', configPath],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BMFLEET_LOG_LEVEL: 'warn' },
    },
  );
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('controller ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`controller exited ${code}: ${err}`)));
  });
  return child;
}

t.test('a rollout survives kill -9 of the controller and completes after restart', async (t) => {
  const dataDir = await tempDir('bmf-restart-');
  await createKeystore(join(dataDir, 'keys')).init({ now: new Date() });
  const [apiPort, brokerPort] = [await freePort(), await freePort()];
  const configPath = join(dataDir, 'controller.json');
  await writeFile(
    configPath,
    JSON.stringify({
      dataDir,
      api: { port: apiPort },
      broker: { embedded: { port: brokerPort } },
      rollout: { tickMs: 100 },
    }),
  );
  const base = `http://127.0.0.1:${apiPort}`;
  const brokerUrl = `mqtt://127.0.0.1:${brokerPort}`;

  let child = await startChild(t, configPath);
  const token = (await readFile(join(dataDir, 'operator-token'), 'utf8')).trim();
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const post = async (path: string, body: unknown) =>
    (await (
      await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) })
    ).json()) as Record<string, unknown>;
  const rollout = async () =>
    (await (await fetch(`${base}/v1/rollouts/r-kill`, { headers })).json()) as {
      status: string;
      group: number;
      devices: Record<string, { status: string }>;
    };

  const s1 = (await post('/v1/devices', { id: 'k-1', chip: 'bm1684x' })).secret as string;
  const s2 = (await post('/v1/devices', { id: 'k-2', chip: 'bm1684x' })).secret as string;
  const bundle = await makeSignedBundle(dataDir);
  t.equal((await post('/v1/bundles', { dir: bundle.dir })).digest, bundle.digest);
  const d1 = await connectFakeDevice(brokerUrl, 'k-1', s1);
  await post('/v1/rollouts', {
    id: 'r-kill',
    bundle: bundle.digest,
    filter: {},
    groups: [{ count: 1 }, { count: 1 }],
    deviceTimeoutMs: 120_000,
  });
  // k-2 is offline: the rollout waits in group 2 with k-2 assigned. Kill it there.
  const mid = await waitFor('group 2 started', async () => {
    const r = await rollout();
    return r.group === 1 && r.devices['k-2']?.status === 'assigned' ? r : undefined;
  });
  t.equal(mid.devices['k-1']?.status, 'active');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  await d1.close();

  child = await startChild(t, configPath);
  const d2 = await connectFakeDevice(brokerUrl, 'k-2', s2);
  t.teardown(() => d2.close());
  const done = await waitFor('completion after restart', async () => {
    const r = await rollout();
    return r.status === 'completed' ? r : undefined;
  });
  t.equal(done.devices['k-1']?.status, 'active', 'finished group kept');
  t.equal(done.devices['k-2']?.status, 'active');
  t.same(d2.assigned.slice(0, 1), [bundle.digest], 'k-2 got its assignment after the restart');
  t.same(d1.assigned, [bundle.digest], 'k-1 was assigned once, before the kill');
  const events = (await (await fetch(`${base}/v1/rollouts/r-kill/events`, { headers })).json()) as {
    events: { type: string }[];
  };
  const count = (type: string) => events.events.filter((e) => e.type === type).length;
  t.equal(count('group_succeeded'), 2, 'each group succeeded once: none was restarted');
  t.equal(count('completed'), 1);

  child.kill('SIGTERM');
  const code = await new Promise((r) => child.once('exit', r));
  t.equal(code, 0, 'SIGTERM shuts down gracefully');
});
