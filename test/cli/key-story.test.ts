// One key story: `keys init --dir keys`, `bundle sign --keys keys`, a controller whose keysDir
// (--keys-dir, keysDir in controller.json, BMFLEET_KEYS_DIR) is that directory, `model push`.
// A bundle signed by other keys is refused with the key ids expected and seen, the root file the
// controller read and a hint.
import t from 'tap';
import pino from 'pino';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadControllerConfig } from '../../controller/config.js';
import { startController } from '../../controller/main.js';
import { buildBundle } from '../../shared/bundle/build.js';
import { FIXTURES, tempDir } from '../../harness/controller/test-controller.js';
import { runCli, type CliRun } from '../../harness/cli.js';

const work = await tempDir('bmf-keystory-');
let env: Record<string, string> = {};

const cli = (...argv: string[]): Promise<CliRun> => runCli(argv, env);

async function bundle(name: string, version: string, sequence: number): Promise<string> {
  const partial = JSON.parse(await readFile(join(FIXTURES, 'partial-manifest.json'), 'utf8'));
  Object.assign(partial, { version, sequence });
  const src = join(work, `${name}.bmodel`);
  await writeFile(src, randomBytes(20_000));
  const out = join(work, name);
  await buildBundle({
    files: [{ role: 'bmodel', source: src }],
    partial,
    outDir: out,
    now: new Date(),
  });
  return out;
}

const keysDir = join(work, 'keys');
t.equal((await cli('keys', 'init', '--dir', keysDir)).code, 0);
const bundleKey = JSON.parse((await cli('keys', 'show', '--dir', keysDir, '--json')).out).roles
  .bundle.keyids[0] as string;

const config = loadControllerConfig({
  env: { BMFLEET_KEYS_DIR: keysDir },
  flags: { dataDir: join(work, 'ctl'), 'api.port': 0, 'broker.embedded.port': 0 },
});
t.equal(config.keysDir, keysDir, 'BMFLEET_KEYS_DIR names the controller keystore');
const handle = await startController(config, { logger: pino({ level: 'silent' }) });
t.teardown(async () => {
  await handle.stop();
  await rm(work, { recursive: true, force: true });
});
t.equal(handle.keysDir, keysDir);
env = { BMFLEET_URL: handle.apiUrl, BMFLEET_TOKEN: handle.generatedToken ?? '' };

t.test('a bundle signed with the keystore the controller uses is accepted', async (t) => {
  const dir = await bundle('good', '1.0.0', 1);
  const signed = await cli('bundle', 'sign', dir, '--keys', keysDir);
  t.equal(signed.code, 0, signed.err);
  t.match(
    signed.out,
    `with the keys in ${keysDir}: a controller accepts it when started with --keys-dir`,
  );
  const pushed = await cli('model', 'push', dir);
  t.equal(pushed.code, 0, pushed.err);
});

t.test(
  'a bundle signed with other keys: which key, which were expected, where, what to do',
  async (t) => {
    const otherKeys = join(work, 'other-keys');
    await cli('keys', 'init', '--dir', otherKeys);
    const otherKey = JSON.parse((await cli('keys', 'show', '--dir', otherKeys, '--json')).out).roles
      .bundle.keyids[0] as string;
    const dir = await bundle('stranger', '2.0.0', 2);
    t.equal((await cli('bundle', 'sign', dir, '--keys', otherKeys)).code, 0);

    const pushed = await cli('model', 'push', dir);
    t.equal(pushed.code, 1);
    t.match(pushed.err, /^BMF_ERR_TRUST_UNKNOWN_KEY: /);
    t.match(pushed.err, `signature by key ${otherKey} is not trusted for role bundle`);
    t.match(pushed.err, `the root trusts ${bundleKey}`);
    t.match(pushed.err, `(looked in ${join(keysDir, 'root.json')})`);
    t.match(pushed.err, `hint: sign bundles with this controller's keys`);
    t.match(pushed.err, `--keys ${keysDir}`);

    const verified = await cli('bundle', 'verify', dir, '--root', join(keysDir, 'root.json'));
    t.equal(verified.code, 1);
    t.match(verified.err, `the root trusts ${bundleKey}`);
    t.match(verified.err, `(looked in ${join(keysDir, 'root.json')})`);
    t.match(verified.err, /hint: verify against the root\.json of the keystore that signed/);
  },
);
