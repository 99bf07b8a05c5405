// What an agent counted reaches the controller across clean stops, once. A real controller
// (embedded broker, SQLite) and three lives of one agent on one state directory, each stopped
// long before its telemetry interval ends (1 h): requests refused before any model was loaded
// (failed before a model answered) in the first, served requests in the second, one more in the
// third. GET /v1/telemetry must show every one of them exactly once.
import t from 'tap';
import type { Test } from 'tap';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAgent, type Agent } from '../../agent/agent.js';
import { AgentConfigSchema, type AgentConfig } from '../../agent/config.js';
import { encodeGoldenFile } from '../../agent/serve/golden-file.js';
import { buildBundle } from '../../shared/bundle/build.js';
import { signBundleDir } from '../../shared/bundle/dir.js';
import { validateConfig } from '../../shared/config/load.js';
import { createKeystore } from '../../shared/trust/keystore.js';
import { goldenInputs, goldenSet, tinyBmodel } from '../../harness/agent/models.js';
import { startTestController, tempDir } from '../../harness/controller/test-controller.js';
import { waitFor, waitForValue } from '../../harness/wait.js';

const FIXTURES = new URL('../fixtures/simulate/', import.meta.url).pathname;
const DEVICE = 'stop-01';
const golden = goldenInputs();

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

interface Summary {
  requests: number;
  errors: number;
  failedBeforeModel: Record<string, { requests: number; errors: number; errorsByCode: object }>;
}
const telemetry = async (): Promise<Summary> =>
  (await (
    await fetch(`${base}/v1/telemetry?device=${DEVICE}`, { headers: ctl.auth })
  ).json()) as Summary;

/** The simulator's tiny BMODEL and golden set as a bundle signed with the controller's key. */
async function pushTinyBundle(): Promise<string> {
  const work = await tempDir('bmf-stop-bundle-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  await writeFile(join(work, 'model.bmodel'), tinyBmodel('tiny-a'));
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
  return digest;
}

/** The enrolled device's agent config: its own state dir, the simulator, an hour-long interval. */
async function enrol(): Promise<AgentConfig> {
  const e = await post<{ agentConfig: Record<string, unknown>; trustRoot: unknown }>(
    '/v1/devices',
    { id: DEVICE, chip: 'bm1684x' },
  );
  const dir = await tempDir('bmf-stop-agent-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'state'), { recursive: true });
  await writeFile(join(dir, 'root.json'), JSON.stringify(e.trustRoot));
  return validateConfig(AgentConfigSchema, {
    ...e.agentConfig,
    stateDir: join(dir, 'state'),
    rootFile: join(dir, 'root.json'),
    runtime: 'sim',
    api: { host: '127.0.0.1', port: 0 },
    telemetry: { intervalMs: 3_600_000 },
  });
}

/** One life of the agent; stopped at the end of the test if the test did not stop it. */
async function life(t: Test, config: AgentConfig): Promise<Agent & { stopped(): Promise<void> }> {
  const agent = createAgent(config);
  await agent.start();
  let stopped = false;
  t.teardown(() => (stopped ? undefined : agent.stop()));
  return Object.assign(agent, {
    async stopped() {
      stopped = true;
      const from = performance.now();
      await agent.stop();
      // Shown, not asserted (no wall-clock assertions): the stop now writes and sends a report.
      t.comment(`stop took ${Math.round(performance.now() - from)} ms`);
    },
  });
}

async function serve(agent: Agent, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await agent.service.infer({ kind: 'tensor', feeds: golden.inputs[i % 16] ?? {} });
  }
}

const bundle = await pushTinyBundle();
const config = await enrol();

t.test('counts pending at a clean stop reach the controller once', async (t) => {
  // Life 1: nothing assigned; three requests over the local API fail before any model.
  const first = await life(t, config);
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${first.apiAddress()}/v1/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: {} }),
    });
    t.equal(r.status, 503, 'refused: no model is active yet');
  }
  await first.stopped();

  // Life 2: the counts are back; a rollout gives it a model; four requests served; stop.
  const second = await life(t, config);
  t.equal(second.telemetry().counts().failedBeforeModel, 3, 'restored from the last life');
  await post('/v1/rollouts', {
    id: 'r-stop',
    bundle,
    filter: {},
    groups: [{ percent: 100 }],
    deviceTimeoutMs: 60_000,
  });
  await waitFor('serving the rollout bundle', () => second.service.ready(), 60_000);
  await serve(second, 4);
  await second.stopped();
  const stored = await waitForValue('the stop report stored', async () => {
    const s = await telemetry();
    return s.requests >= 4 ? s : undefined;
  });
  t.equal(stored.requests, 4, 'the served requests of the closed interval');
  t.same(
    stored.failedBeforeModel,
    { A: { requests: 3, errors: 3, errorsByCode: { BMF_ERR_AGENT_NOT_READY: 3 } } },
    'the requests that failed before a model, carried by that report',
  );

  // Life 3: nothing waits any more; one more request, then stop again.
  const third = await life(t, config);
  t.equal(third.telemetry().counts().failedBeforeModel, 0, 'nothing left to carry');
  await waitFor('serving again from disk', () => third.service.ready(), 60_000);
  await serve(third, 1);
  await third.stopped();
  const after = await waitForValue('the third stop report stored', async () => {
    const s = await telemetry();
    return s.requests >= 5 ? s : undefined;
  });
  t.equal(after.requests, 5, 'each served request counted once');
  t.same(
    after.failedBeforeModel,
    stored.failedBeforeModel,
    'a second restart counts none of them again',
  );
});
