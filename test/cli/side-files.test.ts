// Files named at a flag are input: one that is missing is BMF_ERR_IO naming it, one that is not
// JSON is the spec's own error naming it; neither is an internal error (exit 1 with a code the
// user can act on). `package` reads its side files before the BMODEL, so none is needed here.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../harness/cli.js';

t.test('package: side files that are missing or not JSON', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bmf-side-files-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const notJson = join(dir, 'not.json');
  await writeFile(notJson, 'resize: 224\n');
  const spec = join(dir, 'preprocess.json');
  await writeFile(spec, JSON.stringify({ width: 28, height: 28 }));
  const missing = join(dir, 'missing.json');
  const pack = (...flags: string[]) =>
    runCli([
      'package',
      '--bmodel',
      join(dir, 'model.bmodel'),
      '--name',
      'm',
      '--version',
      '1',
      '--sequence',
      '1',
      '--chip',
      'bm1684x',
      '--precision',
      'fp32',
      '--out',
      join(dir, 'out'),
      ...flags,
    ]);
  const cases: { why: string; flags: string[]; code: string; names: string }[] = [
    { why: 'missing spec', flags: ['--preprocess', missing], code: 'BMF_ERR_IO', names: missing },
    {
      why: 'spec not JSON',
      flags: ['--preprocess', notJson],
      code: 'BMF_ERR_PREPROCESS_SPEC',
      names: notJson,
    },
    {
      why: 'decoder not JSON',
      flags: ['--preprocess', spec, '--decoder', notJson],
      code: 'BMF_ERR_DECODER_SPEC',
      names: notJson,
    },
    {
      why: 'missing labels',
      flags: ['--preprocess', spec, '--labels', missing],
      code: 'BMF_ERR_IO',
      names: missing,
    },
  ];
  for (const c of cases) {
    const r = await pack(...c.flags);
    t.equal(r.code, 1, c.why);
    t.match(r.err, new RegExp(`^${c.code}: `), `${c.why}: ${r.err.trim()}`);
    t.ok(r.err.includes(c.names), `${c.why}: names the file`);
  }
});
