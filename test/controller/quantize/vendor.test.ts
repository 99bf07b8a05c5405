// `bmfleet quantize --target tpu-mlir` and `bmfleet umodel build --target tpu-mlir`. The vendor
// toolchain is not installed here: test/fixtures/quantize/fake-tpu-mlir.py stands in for
// model_transform.py, run_calibration.py and model_deploy.py with those scripts' own argparse
// option sets (current release, and an old one without --processor / --keep_ratio_mode), so
// every flag bmfleet passes is parsed as the vendor parses it. What the real tools compute is
// not tested here.
import t from 'tap';
import type { Test } from 'tap';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { tpuMlirCaps, transformPreprocessArgs } from '../../../controller/quantize/vendor.js';
import { readBmodel } from '../../../shared/bmodel/index.js';
import { parsePreprocessSpec } from '../../../shared/preprocess/index.js';
import { SYSTEM_PATH, cli, fakeToolchain, type Call } from './fake-toolchain.js';

const FAKE = new URL('../../fixtures/quantize/fake-tpu-mlir.py', import.meta.url).pathname;
const python = spawnSync('python3', ['-c', 'import argparse'], {
  env: { PATH: SYSTEM_PATH },
}).status;
const skip = python === 0 ? false : 'no python3 with argparse on /usr/bin:/bin';

async function setup(t: Test, profile: 'current' | 'old', opts: { chip?: string } = {}) {
  const { dir, env, calls } = await fakeToolchain(t, {
    script: FAKE,
    tools: ['model_transform.py', 'run_calibration.py', 'model_deploy.py'],
    profile: ['BMF_FAKE_TPU_MLIR', profile],
    ...opts,
    calibration: Array.from({ length: 6 }, (_, i) => Buffer.alloc(36, i * 40)),
  });
  const spec = (extra: object = {}) => {
    const p = join(dir, `spec-${Object.keys(extra).length}.json`);
    writeFileSync(
      p,
      JSON.stringify({
        resize_dims: [6, 6],
        pixel_format: 'gray',
        mean: [128],
        scale: [0.02],
        ...extra,
      }),
    );
    return p;
  };
  const base = (out: string, specPath = spec()) => [
    'quantize',
    '--target',
    'tpu-mlir',
    '--model',
    join(dir, 'toy.onnx'),
    '--preprocess',
    specPath,
    '--chip',
    'bm1684x',
    '--out',
    join(dir, out),
  ];
  return { dir, env, calls, spec, base };
}

const flag = (argv: readonly string[], name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i < 0 ? undefined : argv[i + 1];
};

t.test('capabilities come from the help texts', { skip }, async (t) => {
  // The fake picks its tool by the name it runs as: read each help through a named link.
  const dir = t.testdir({});
  const help = (profile: string, tool: string): string => {
    const link = join(dir, `${profile}-${tool}`);
    mkdirSync(link);
    symlinkSync(FAKE, join(link, tool));
    return spawnSync(join(link, tool), ['--help'], {
      env: { PATH: SYSTEM_PATH, BMF_FAKE_TPU_MLIR: profile },
      encoding: 'utf8',
    }).stdout;
  };
  const current = tpuMlirCaps(
    help('current', 'model_transform.py'),
    help('current', 'model_deploy.py'),
  );
  t.same(current, {
    version: 'v1.14-20250301',
    processorFlag: true,
    keepRatioMode: true,
    quantizeTable: true,
  });
  const old = tpuMlirCaps(help('old', 'model_transform.py'), help('old', 'model_deploy.py'));
  t.same(old, {
    version: 'v1.1-20221230',
    processorFlag: false,
    keepRatioMode: false,
    quantizeTable: true,
  });
  // The fakes refuse what the release does not define, as argparse does in the real scripts.
  const oldDeploy = join(dir, 'old-model_deploy.py', 'model_deploy.py');
  const refused = spawnSync(
    oldDeploy,
    ['--mlir', 'x.mlir', '--chip', 'bm1684x', '--processor', 'bm1684x', '--model', 'x.bmodel'],
    { env: { PATH: SYSTEM_PATH, BMF_FAKE_TPU_MLIR: 'old' }, encoding: 'utf8' },
  );
  t.equal(refused.status, 2, 'old model_deploy.py rejects --processor');
  t.match(refused.stderr, /unrecognized arguments: --processor/);
  const letterbox = parsePreprocessSpec({
    resize_dims: [6, 6],
    pixel_format: 'gray',
    keep_aspect_ratio: true,
  });
  t.ok(transformPreprocessArgs(letterbox, current).includes('--keep_ratio_mode'));
  t.notOk(transformPreprocessArgs(letterbox, old).includes('--keep_ratio_mode'));
  t.ok(transformPreprocessArgs(letterbox, old).includes('--keep_aspect_ratio'));
  t.throws(
    () =>
      transformPreprocessArgs(
        parsePreprocessSpec({ ...letterbox, keep_ratio_mode: 'short_side_scale' }),
        old,
      ),
    { code: 'BMF_ERR_TOOLCHAIN_VERSION' },
  );
});

t.test(
  'current release: transform, vendor calibration, INT8 deploy, BMODEL read back',
  { skip },
  async (t) => {
    const s = await setup(t, 'current');
    const r = await cli([...s.base('o'), '--calibration', join(s.dir, 'calib')], s.env);
    t.equal(r.exit, 0, r.stderr);
    const calls = s.calls().filter((c) => !c.argv.includes('--help'));
    t.same(
      calls.map((c) => c.tool),
      ['model_transform.py', 'run_calibration.py', 'model_deploy.py'],
    );
    const [transform, calib, deploy] = calls as [Call, Call, Call];
    t.equal(flag(transform.argv, '--input_shapes'), '[[1,1,6,6]]');
    t.equal(flag(transform.argv, '--pixel_format'), 'gray');
    t.equal(flag(calib.argv, '--input_num'), '6', 'every calibration image');
    t.equal(flag(deploy.argv, '--quantize'), 'INT8');
    t.equal(flag(deploy.argv, '--chip'), 'bm1684x');
    t.equal(flag(deploy.argv, '--calibration_table'), flag(calib.argv, '-o'));
    t.equal(flag(deploy.argv, '--tolerance'), undefined, "the vendor's default tolerance");
    t.ok(flag(deploy.argv, '--test_input'), 'one calibration image for the vendor comparison');
    const bytes = readFileSync(join(s.dir, 'o', 'toy_int8.bmodel'));
    t.equal(readBmodel(bytes).chip, 'BM1684X');
    t.match(r.stdout, /tpu-mlir v1\.14-20250301/);
    t.match(r.stdout, /run_calibration\.py on 6 images/);
    t.match(r.stdout, /tolerance 0\.8,0\.5 \(model_deploy default\)/);
  },
);

t.test("bmfleet's tables go into the vendor build", { skip }, async (t) => {
  const s = await setup(t, 'current');
  // Tables from bmfleet's own calibration of the same model.
  const sim = await cli(
    [
      'quantize',
      '--model',
      join(s.dir, 'toy.onnx'),
      '--preprocess',
      s.spec(),
      '--calibration',
      join(s.dir, 'calib'),
      '--chip',
      'bm1684x',
      '--method',
      'max',
      '--out',
      join(s.dir, 'sim'),
    ],
    s.env,
  );
  t.equal(sim.exit, 0, `sim quantize: ${sim.stderr}`);
  const table = join(s.dir, 'sim', 'cali_table');
  const qtable = join(s.dir, 'sim', 'qtable');
  const r = await cli(
    [
      ...s.base('o'),
      '--calibration-table',
      table,
      '--quantize-table',
      qtable,
      '--tolerance',
      '0.95,0.8',
    ],
    s.env,
  );
  t.equal(r.exit, 0, r.stderr);
  const calls = s.calls().filter((c) => !c.argv.includes('--help'));
  t.same(
    calls.map((c) => c.tool),
    ['model_transform.py', 'model_deploy.py'],
    'no vendor calibration when a table is given',
  );
  const deploy = calls[1]!;
  t.equal(
    readFileSync(flag(deploy.argv, '--calibration_table')!, 'utf8'),
    readFileSync(table, 'utf8'),
    "bmfleet's calibration table, unchanged",
  );
  t.equal(flag(deploy.argv, '--quantize_table'), qtable);
  t.equal(flag(deploy.argv, '--tolerance'), '0.95,0.8', "the user's tolerance");
  t.equal(flag(deploy.argv, '--test_input'), undefined, 'no images, no vendor comparison');

  // The step path: umodel export + build --target tpu-mlir with the same tables.
  const u = join(s.dir, 'toy.fp32umodel');
  t.equal(
    (
      await cli(
        [
          'umodel',
          'export',
          '--model',
          join(s.dir, 'toy.onnx'),
          '--preprocess',
          s.spec(),
          '--out',
          u,
        ],
        s.env,
      )
    ).exit,
    0,
  );
  const b = await cli(
    [
      'umodel',
      'build',
      u,
      '--cali-table',
      table,
      '--qtable',
      qtable,
      '--chip',
      'bm1684x',
      '--target',
      'tpu-mlir',
      '--calibration',
      join(s.dir, 'calib'),
      '--out',
      join(s.dir, 'ub'),
    ],
    s.env,
  );
  t.equal(b.exit, 0, b.stderr);
  const last = s.calls().at(-1)!;
  t.equal(last.tool, 'model_deploy.py');
  t.equal(flag(last.argv, '--quantize_table'), qtable);
  t.ok(existsSync(join(s.dir, 'ub', 'toy_int8.bmodel')));
});

t.test(
  'old release: letterbox without --keep_ratio_mode; other modes refused',
  { skip },
  async (t) => {
    const s = await setup(t, 'old');
    const letterbox = s.spec({ keep_aspect_ratio: true });
    const r = await cli([...s.base('o', letterbox), '--calibration', join(s.dir, 'calib')], s.env);
    t.equal(r.exit, 0, r.stderr);
    const transform = s
      .calls()
      .find((c) => c.tool === 'model_transform.py' && !c.argv.includes('--help'))!;
    t.ok(transform.argv.includes('--keep_aspect_ratio'));
    t.notOk(transform.argv.includes('--keep_ratio_mode'));
    t.match(r.stdout, /--processor no, --keep_ratio_mode no/);

    const before = s.calls().length;
    const short = s.spec({ keep_aspect_ratio: true, keep_ratio_mode: 'short_side_scale' });
    const refused = await cli(
      [...s.base('o2', short), '--calibration', join(s.dir, 'calib')],
      s.env,
    );
    t.equal(refused.exit, 1);
    t.match(refused.stderr, 'BMF_ERR_TOOLCHAIN_VERSION');
    t.same(
      s
        .calls()
        .slice(before)
        .filter((c) => !c.argv.includes('--help')),
      [],
      'no vendor step ran',
    );
    t.notOk(existsSync(join(s.dir, 'o2', 'toy_int8.bmodel')));
  },
);

t.test('bad input ends in typed errors and writes no BMODEL', { skip }, async (t) => {
  const s = await setup(t, 'current', { chip: 'BM1684' });
  const cases = [
    {
      name: 'vendor BMODEL for the wrong chip',
      argv: [...s.base('w1'), '--calibration', join(s.dir, 'calib')],
      code: 'BMF_ERR_COMPILE_VALIDATION',
      out: 'w1',
    },
    {
      name: 'calibration table naming an unknown tensor',
      argv: [...s.base('w2'), '--calibration-table', join(s.dir, 'bad_table')],
      code: 'BMF_ERR_CALIBRATION_TABLE',
      out: 'w2',
      noTool: true,
    },
    {
      name: 'neither images nor table',
      argv: s.base('w3'),
      code: 'BMF_ERR_USAGE',
      exit: 2,
      out: 'w3',
      noTool: true,
    },
    {
      name: 'an unknown quantize target',
      argv: [
        ...s.base('w4').map((a) => (a === 'tpu-mlir' ? 'tpu-foo' : a)),
        '--calibration',
        join(s.dir, 'calib'),
      ],
      code: 'BMF_ERR_USAGE',
      exit: 2,
      out: 'w4',
      noTool: true,
    },
    {
      name: 'sim-only flags with the vendor target',
      argv: [...s.base('w6'), '--calibration', join(s.dir, 'calib'), '--method', 'mse'],
      code: 'BMF_ERR_USAGE',
      exit: 2,
      out: 'w6',
      noTool: true,
    },
    {
      name: 'toolchain not installed',
      argv: [...s.base('w5'), '--calibration', join(s.dir, 'calib')],
      env: { ...s.env, PATH: SYSTEM_PATH },
      code: 'BMF_ERR_TOOLCHAIN_MISSING',
      out: 'w5',
      noTool: true,
    },
  ];
  writeFileSync(join(s.dir, 'bad_table'), '# header\nno_such_tensor 1.0 -1.0 1.0\n');
  for (const c of cases) {
    const before = s.calls().length;
    const r = await cli(c.argv, c.env ?? s.env);
    t.equal(r.exit, c.exit ?? 1, c.name);
    t.match(r.stderr, c.code, c.name);
    t.notOk(existsSync(join(s.dir, c.out, 'toy_int8.bmodel')), `${c.name}: no BMODEL`);
    if (c.noTool) t.equal(s.calls().length, before, `${c.name}: no vendor tool ran`);
  }
});
