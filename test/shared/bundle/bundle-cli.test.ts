// The CLI path end to end: keys init -> bundle build -> sign -> verify -> tamper -> verify fails.
import t from 'tap';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliRun } from '../../../harness/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'bmf-bundle-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const keys = join(dir, 'keys');
const out = join(dir, 'bundle');
const partial = new URL('../../fixtures/trust/partial-manifest.json', import.meta.url).pathname;
writeFileSync(join(dir, 'model.bmodel'), Buffer.alloc(200_000, 3));
writeFileSync(join(dir, 'labels.txt'), 'zero\none\ntwo\n');

const cli = (...argv: string[]): Promise<CliRun> => runCli(argv);

t.test('init, build, sign, verify, tamper', async (t) => {
  t.equal((await cli('keys', 'init', '--dir', keys)).code, 0);
  const shown = await cli('keys', 'show', '--dir', keys, '--json');
  t.equal(JSON.parse(shown.out).version, 1);

  const built = await cli(
    'bundle',
    'build',
    '--bmodel',
    join(dir, 'model.bmodel'),
    '--labels',
    join(dir, 'labels.txt'),
    '--manifest',
    partial,
    '--out',
    out,
  );
  t.equal(built.code, 0, built.err);
  const unsigned = await cli('bundle', 'verify', out, '--root', join(keys, 'root.json'));
  t.match(unsigned.err, /BMF_ERR_BUNDLE_FILE_MISSING/, 'unsigned bundle does not verify');

  t.equal((await cli('bundle', 'sign', out, '--keys', keys)).code, 0);
  const root = join(keys, 'root.json');
  const ok = await cli(
    'bundle',
    'verify',
    out,
    '--root',
    root,
    '--chip',
    'bm1684x',
    '--installed-sequence',
    '2',
  );
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /^OK tiny-cnn 0\.1\.0 sequence 3 digest [0-9a-f]{64}/);

  const inspect = await cli('bundle', 'inspect', out, '--json');
  const info = JSON.parse(inspect.out);
  t.equal(info.manifest.outputs.labels.file, 'labels.txt', 'labels wired into output decoding');
  t.equal(info.signatures.length, 1);

  const expectFail = async (code: string, ...extra: string[]) => {
    const r = await cli('bundle', 'verify', out, '--root', root, ...extra);
    t.equal(r.code, 1);
    t.match(r.err, new RegExp(`^${code}:`), r.err);
  };
  await expectFail('BMF_ERR_TRUST_CHIP_MISMATCH', '--chip', 'bm1688');
  await expectFail('BMF_ERR_TRUST_ROLLBACK', '--installed-sequence', '3');

  const bmodelSha = info.manifest.files.find((f: { role: string }) => f.role === 'bmodel').sha256;
  const blob = join(out, 'blobs', bmodelSha);
  const original = readFileSync(blob);
  const flipped = Buffer.from(original);
  flipped[100] = (flipped[100] ?? 0) ^ 1;
  writeFileSync(blob, flipped);
  await expectFail('BMF_ERR_TRUST_HASH_MISMATCH');
  writeFileSync(blob, original);
  appendFileSync(blob, 'more');
  await expectFail('BMF_ERR_TRUST_SIZE_MISMATCH');
  writeFileSync(blob, original);

  const signedPath = join(out, 'manifest.signed.json');
  const env = JSON.parse(readFileSync(signedPath, 'utf8'));
  env.signed.sequence = 4;
  writeFileSync(signedPath, JSON.stringify(env));
  await expectFail('BMF_ERR_TRUST_BAD_SIGNATURE');
});

t.test('usage errors exit 2', async (t) => {
  t.equal((await cli('bundle', 'frobnicate')).code, 2);
  t.equal((await cli('keys', 'rotate', 'nobody', '--dir', keys)).code, 2);
  const chip = await cli(
    'bundle',
    'verify',
    out,
    '--root',
    join(keys, 'root.json'),
    '--chip',
    'x1',
  );
  t.match(chip.err, /BMF_ERR_CHIP_UNKNOWN/);
});
