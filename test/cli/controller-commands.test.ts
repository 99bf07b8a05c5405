// The controller-facing CLI commands against a real controller, through cli/main.ts.
import t from 'tap';
import { PassThrough } from 'node:stream';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../cli/main.js';
import { makeSignedBundle, startTestController, tempDir } from '../controller/api/harness.js';

const ctl = await startTestController();
t.teardown(() => ctl.handle.stop());
const env = { BMFLEET_URL: ctl.handle.apiUrl, BMFLEET_TOKEN: ctl.token };

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main({ argv, stdout, stderr, env });
  return { code, out, err };
}

t.test('device add writes agent.json (0600) and root.json; list and show', async (t) => {
  const dir = await tempDir('bmf-cli-');
  const out = join(dir, 'agent.json');
  const added = await cli(
    'device',
    'add',
    'cli-1',
    '--chip',
    'bm1684x',
    '--tag',
    'site=berlin',
    '--out',
    out,
  );
  t.equal(added.code, 0, added.err);
  const cfg = JSON.parse(await readFile(out, 'utf8'));
  t.equal(cfg.deviceId, 'cli-1');
  t.equal((await stat(out)).mode & 0o777, 0o600);
  t.same(
    JSON.parse(await readFile(cfg.rootFile, 'utf8')),
    JSON.parse(await readFile(join(ctl.dataDir, 'keys/root.json'), 'utf8')),
  );
  const list = await cli('device', 'list');
  t.match(list.out, /^DEVICE\s+CHIP\s+ONLINE/);
  t.match(list.out, /cli-1\s+bm1684x\s+no/);
  const json = JSON.parse((await cli('device', 'show', 'cli-1', '--json')).out);
  t.same(json.tags, { site: 'berlin' });
});

t.test('errors carry the API code and exit 1; usage errors exit 2', async (t) => {
  const missing = await cli('device', 'show', 'nobody');
  t.equal(missing.code, 1);
  t.match(missing.err, /^BMF_ERR_NOT_FOUND: device nobody not found/);
  const badToken = await main({
    argv: ['device', 'list'],
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    env: { ...env, BMFLEET_TOKEN: 'wrong' },
  });
  t.equal(badToken, 1);
  t.equal((await cli('device', 'add', 'x')).code, 2, 'missing --chip is a usage error');
  t.equal((await cli('rollout', 'frobnicate')).code, 2);
});

t.test('model push, rollout create/show/events/pause, telemetry show', async (t) => {
  const b = await makeSignedBundle(ctl.dataDir);
  const pushed = await cli('model', 'push', b.dir);
  t.equal(pushed.code, 0, pushed.err);
  t.match(pushed.out, b.digest);
  t.match((await cli('model', 'list')).out, /api-test-model\s+1\s+1\.0\.0 \(int8\)/);
  const created = await cli(
    'rollout',
    'create',
    b.digest,
    '--tag',
    'site=berlin',
    '--id',
    'r-cli',
    '--groups',
    '1,rest',
    '--json',
  );
  t.equal(created.code, 0, created.err);
  t.equal(JSON.parse(created.out).id, 'r-cli');
  t.match((await cli('rollout', 'list')).out, /r-cli\s+\w{12}\s+running/);
  t.match((await cli('rollout', 'pause', 'r-cli')).out, /paused/);
  t.match((await cli('rollout', 'events', 'r-cli')).out, /paused/);
  const again = await cli('rollout', 'pause', 'r-cli');
  t.equal(again.code, 1);
  t.match(again.err, /BMF_ERR_ROLLOUT_STATE/);
  const tele = await cli('telemetry', 'show', '--bundle', b.digest);
  t.match(tele.out, /reports 0 from 0 device\(s\); requests 0/);
});
