// `bmfleet controller --nats-users SECRETS.json`: NATS users from the controller's device
// registry (its SQLite store in dataDir), through cli/main.ts. Each device's permissions are its
// own subjects; a secret the registry does not hold is refused with BMF_ERR_NATS_USERS and
// nothing is printed. (The users on a real NATS node: test/integration/controller/
// nats-credentials.test.ts.)
import t from 'tap';
import { PassThrough } from 'node:stream';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/main.js';
import { openControllerStore } from '../../controller/store/open.js';
import { createSystemClock } from '../../shared/clock.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main({ argv, stdout, stderr, env: {} });
  return { code, out, err };
}

t.test('controller --nats-users', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bmf-cli-nats-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = await openControllerStore({
    sqlitePath: join(dir, 'controller.db'),
    clock: createSystemClock(),
    holder: 'test',
  });
  const a = await store.devices.add('nu-a', 'bm1684x', {}, 1);
  await store.devices.add('nu-b', 'bm1684x', {}, 1);
  await store.close();
  const config = join(dir, 'controller.json');
  await writeFile(config, JSON.stringify({ dataDir: dir, broker: { password: 'ctl-pw' } }));
  const secrets = join(dir, 'secrets.json');

  await writeFile(secrets, JSON.stringify({ 'nu-a': a.secret }));
  const ok = await cli('controller', '--nats-users', secrets, '--config', config);
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /user: "bmfleet-controller", password: "\$2b\$\d\d\$[^"]+" }/, 'the controller');
  t.notOk(
    ok.out.includes('ctl-pw') || ok.out.includes(a.secret),
    'bcrypt hashes, no secret in clear',
  );
  t.match(
    ok.out,
    /user: "nu-a", password: "[^"]+", permissions: \{\s+publish: \{ allow: \["bmf\.v1\.d\.nu-a\.hello"/,
    'nu-a on its own subjects',
  );
  t.notMatch(ok.out, /"nu-b"/, 'no user for the device without a secret');
  t.match(ok.err, /1 registered device\(s\): nu-b/, 'which is named on stderr');

  await writeFile(secrets, JSON.stringify({ 'nu-b': a.secret }));
  const wrong = await cli('controller', '--nats-users', secrets, '--config', config);
  t.equal(wrong.code, 1);
  t.match(wrong.err, /BMF_ERR_NATS_USERS/);
  t.notMatch(wrong.err, new RegExp(a.secret), 'the secret is not shown');
  t.equal(wrong.out, '', 'nothing printed');
});
