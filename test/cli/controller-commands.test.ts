// The controller-facing CLI commands against a real controller, through cli/main.ts.
import t from 'tap';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAgentConfig } from '../../agent/config.js';
import {
  makeSignedBundle,
  startTestController,
  tempDir,
} from '../../harness/controller/test-controller.js';
import { runCli, type CliRun } from '../../harness/cli.js';

const ctl = await startTestController();
t.teardown(() => ctl.handle.stop());
const env = { BMFLEET_URL: ctl.handle.apiUrl, BMFLEET_TOKEN: ctl.token };

const cli = (...argv: string[]): Promise<CliRun> => runCli(argv, env);

t.test('device add --out writes one self-contained agent.json (0600); list and show', async (t) => {
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
  t.match(added.out, `bmfleet agent --config ${out}`);
  const cfg = JSON.parse(await readFile(out, 'utf8'));
  t.equal(cfg.deviceId, 'cli-1');
  t.equal(cfg.rootFile, undefined, 'the root is embedded, no file beside it');
  t.equal((await stat(out)).mode & 0o777, 0o600);
  t.same(cfg.root, JSON.parse(await readFile(join(ctl.dataDir, 'keys/root.json'), 'utf8')));
  t.same(await readdir(dir), ['agent.json'], 'nothing else written');
  const loaded = loadAgentConfig({ file: out, flags: { stateDir: dir } });
  t.same(loaded.root, cfg.root, 'the agent loads the self-contained form');
  const list = await cli('device', 'list');
  t.match(list.out, /^DEVICE\s+CHIP\s+ONLINE/);
  t.match(list.out, /cli-1\s+bm1684x\s+no/);
  const json = JSON.parse((await cli('device', 'show', 'cli-1', '--json')).out);
  t.same(json.tags, { site: 'berlin' });
});

t.test(
  'device add --out-dir creates the directory, agent.json names root.json beside it',
  async (t) => {
    const dir = join(await tempDir('bmf-cli-'), 'boards', 'cli-2');
    const added = await cli('device', 'add', 'cli-2', '--chip', 'bm1684x', '--out-dir', dir);
    t.equal(added.code, 0, added.err);
    t.same((await readdir(dir)).sort(), ['agent.json', 'root.json']);
    const cfg = JSON.parse(await readFile(join(dir, 'agent.json'), 'utf8'));
    t.equal(cfg.rootFile, 'root.json');
    t.equal((await stat(join(dir, 'agent.json'))).mode & 0o777, 0o600);
    const loaded = loadAgentConfig({ file: join(dir, 'agent.json') });
    t.equal(loaded.rootFile, join(dir, 'root.json'), 'relative to the config file');
    t.same(
      JSON.parse(await readFile(loaded.rootFile, 'utf8')),
      JSON.parse(await readFile(join(ctl.dataDir, 'keys/root.json'), 'utf8')),
    );
  },
);

t.test(
  'device add never overwrites a file without --force and creates no device then',
  async (t) => {
    const dir = await tempDir('bmf-cli-');
    const out = join(dir, 'agent.json');
    await writeFile(out, "another controller's agent config\n");
    const refused = await cli('device', 'add', 'cli-3', '--chip', 'bm1684x', '--out', out);
    t.equal(refused.code, 1);
    t.match(refused.err, `BMF_ERR_FILE_EXISTS: ${out} already exists: pass --force`);
    t.equal(await readFile(out, 'utf8'), "another controller's agent config\n");
    t.equal((await cli('device', 'show', 'cli-3')).code, 1, 'no device was created');
    await mkdir(join(dir, 'kit'));
    await writeFile(join(dir, 'kit', 'root.json'), 'old root\n');
    const refusedDir = await cli(
      'device',
      'add',
      'cli-3',
      '--chip',
      'bm1684x',
      '--out-dir',
      join(dir, 'kit'),
    );
    t.match(refusedDir.err, /BMF_ERR_FILE_EXISTS: .*kit\/root\.json/);
    const forced = await cli(
      'device',
      'add',
      'cli-3',
      '--chip',
      'bm1684x',
      '--out',
      out,
      '--force',
    );
    t.equal(forced.code, 0, forced.err);
    t.equal(JSON.parse(await readFile(out, 'utf8')).deviceId, 'cli-3');
  },
);

t.test('device add rolls the device back when the file cannot be written', async (t) => {
  const dir = await tempDir('bmf-cli-');
  const blocker = join(dir, 'a-file');
  await writeFile(blocker, 'x');
  const underFile = await cli(
    'device',
    'add',
    'cli-4',
    '--chip',
    'bm1684x',
    '--out',
    join(blocker, 'agent.json'),
  );
  t.equal(underFile.code, 1);
  t.match(underFile.err, /^BMF_ERR_IO: /);
  t.equal((await cli('device', 'show', 'cli-4')).code, 1, 'refused before the device exists');

  // A directory where the file should go: found only when writing, after the device exists.
  const asDir = join(dir, 'agent.json');
  await mkdir(asDir);
  const failed = await cli(
    'device',
    'add',
    'cli-4',
    '--chip',
    'bm1684x',
    '--out',
    asDir,
    '--force',
  );
  t.equal(failed.code, 1);
  t.match(failed.err, /^BMF_ERR_IO: .*hint: device cli-4 was removed again/);
  t.equal((await cli('device', 'show', 'cli-4')).code, 1, 'rolled back');
  await rm(asDir, { recursive: true });
  const again = await cli('device', 'add', 'cli-4', '--chip', 'bm1684x', '--out', asDir);
  t.equal(again.code, 0, again.err);
  t.equal(JSON.parse(await readFile(asDir, 'utf8')).deviceId, 'cli-4');
});

t.test('errors carry the API code and exit 1; usage errors exit 2', async (t) => {
  const missing = await cli('device', 'show', 'nobody');
  t.equal(missing.code, 1);
  t.match(missing.err, /^BMF_ERR_NOT_FOUND: device nobody not found/);
  const badToken = await runCli(['device', 'list'], { ...env, BMFLEET_TOKEN: 'wrong' });
  t.equal(badToken.code, 1);
  t.equal((await cli('device', 'add', 'x')).code, 2, 'missing --chip is a usage error');
  t.equal((await cli('rollout', 'frobnicate')).code, 2);
});

t.test('model push, rollout create/show/events/pause, telemetry show', async (t) => {
  const b = await makeSignedBundle(ctl.dataDir);
  const pushed = await cli('model', 'push', b.dir);
  t.equal(pushed.code, 0, pushed.err);
  t.match(pushed.out, b.digest);
  t.match((await cli('model', 'list')).out, /api-test-model\s+1\s+1\.0\.0 \(int8\)/);
  // As the tables print them: a unique prefix names the bundle wherever a digest is taken.
  const shown = await cli('model', 'show', b.digest.slice(0, 8));
  t.equal(shown.code, 0, shown.err);
  t.match(shown.out, `digest ${b.digest}`);
  const short = await cli('model', 'show', b.digest.slice(0, 4));
  t.equal(short.code, 1);
  t.match(short.err, `BMF_ERR_DIGEST_PREFIX: digest prefix ${b.digest.slice(0, 4)} is too short`);
  t.match(short.err, b.digest);
  const created = await cli(
    'rollout',
    'create',
    b.digest.slice(0, 12),
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
  t.equal(JSON.parse(created.out).bundle, b.digest, 'stored with the full digest');
  t.match((await cli('rollout', 'list')).out, /r-cli\s+\w{12}\s+running/);
  t.match((await cli('rollout', 'pause', 'r-cli')).out, /paused/);
  t.match((await cli('rollout', 'events', 'r-cli')).out, /paused/);
  const again = await cli('rollout', 'pause', 'r-cli');
  t.equal(again.code, 1);
  t.match(again.err, /BMF_ERR_ROLLOUT_STATE/);
  // One header style in every table: upper case.
  const tables = [
    (await cli('device', 'list')).out,
    (await cli('model', 'list')).out,
    (await cli('model', 'bundles')).out,
    (await cli('rollout', 'list')).out,
    (await cli('experiment', 'list')).out,
  ];
  for (const table of tables) {
    const header = table.split('\n')[0] ?? '';
    t.match(header, /^[A-Z]/, header);
    t.equal(header, header.toUpperCase(), `one header style: ${header}`);
  }
  const tele = await cli('telemetry', 'show', '--bundle', b.digest.slice(0, 10));
  t.match(tele.out, /reports 0 from 0 device\(s\); requests 0/);
});
