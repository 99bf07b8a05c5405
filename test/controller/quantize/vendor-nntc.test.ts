// `bmfleet quantize --target tpu-nntc`. The vendor toolchain is not installed here:
// test/fixtures/quantize/fake-tpu-nntc.py stands in for bmnetu, calibration_use_pb and the
// toolchain's python3 (ufw.tools.on_to_umodel, and ufw.io for the LMDB script bmfleet runs), with
// the option sets the vendor documents for them and gflags' parsing rules, so every flag bmfleet
// passes is parsed as the vendor parses it. What the real tools compute is not tested here.
import t from 'tap';
import type { Test } from 'tap';
import {
  chmodSync,
  existsSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { readDataset } from '../../../controller/quantize/dataset.js';
import { loadDatasetInputs } from '../../../controller/quantize/inputs.js';
import { tpuNntcCaps } from '../../../controller/quantize/vendor-nntc.js';
import { readBmodel } from '../../../shared/bmodel/index.js';
import { parsePreprocessSpec } from '../../../shared/preprocess/index.js';
import { SYSTEM_PATH, cli, fakeToolchain, type Call } from './fake-toolchain.js';

const FAKE = new URL('../../fixtures/quantize/fake-tpu-nntc.py', import.meta.url).pathname;
const numpy = spawnSync('/usr/bin/python3', ['-c', 'import argparse, numpy'], {
  env: { PATH: SYSTEM_PATH },
}).status;
const skip = numpy === 0 ? false : 'no /usr/bin/python3 with argparse and numpy';
if (skip) t.comment(`skipping: ${skip}`);
chmodSync(FAKE, 0o755);

const SPEC = { resize_dims: [6, 6], pixel_format: 'gray', mean: [128], scale: [0.02] };

async function setup(t: Test, profile: 'current' | 'old') {
  const { dir, env, calls } = await fakeToolchain(t, {
    script: FAKE,
    tools: ['bmnetu', 'calibration_use_pb', 'python3'],
    profile: ['BMF_FAKE_TPU_NNTC', profile],
    calibration: Array.from({ length: 5 }, (_, i) =>
      Buffer.from(Array.from({ length: 36 }, (_, k) => (i * 50 + k * 7) % 256)),
    ),
  });
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(SPEC));
  const base = (out: string, chip = 'bm1684x') => [
    'quantize',
    '--target',
    'tpu-nntc',
    '--model',
    join(dir, 'toy.onnx'),
    '--preprocess',
    join(dir, 'spec.json'),
    '--calibration',
    join(dir, 'calib'),
    '--chip',
    chip,
    '--out',
    join(dir, out),
  ];
  return { dir, env, calls, base };
}

/** gflags `-name=value` (the form bmfleet writes). */
const gflag = (argv: readonly string[], name: string): string | undefined =>
  argv.find((a) => a.startsWith(`-${name}=`))?.slice(name.length + 2);

t.test('capabilities come from the gflags help texts', { skip }, async (t) => {
  const help = (profile: string, tool: string): string => {
    const dir = t.testdir({});
    symlinkSync(FAKE, join(dir, tool));
    const r = spawnSync(join(dir, tool), ['--help'], {
      env: { PATH: SYSTEM_PATH, BMF_FAKE_TPU_NNTC: profile },
      encoding: 'utf8',
    });
    t.equal(r.status, 1, `${tool} --help exits 1, as gflags does`);
    return r.stdout;
  };
  t.same(tpuNntcCaps(help('current', 'bmnetu'), help('current', 'calibration_use_pb')), {
    version: '3.1.7',
    targets: ['BM1684', 'BM1684X'],
    fpfwdOutputs: true,
  });
  t.same(tpuNntcCaps(help('old', 'bmnetu'), help('old', 'calibration_use_pb')), {
    version: '2.7.0',
    targets: ['BM1684'],
    fpfwdOutputs: true,
  });
  const noFpfwd = help('current', 'calibration_use_pb')
    .split('\n')
    .filter((l) => !l.includes('-fpfwd_outputs'))
    .join('\n');
  t.equal(tpuNntcCaps('', noFpfwd).fpfwdOutputs, false);
  t.same(tpuNntcCaps('', '').targets, [], 'no -target flag, no chip');
});

t.test('the fakes refuse what the vendor tools refuse', { skip }, async (t) => {
  const dir = t.testdir({});
  symlinkSync(FAKE, join(dir, 'bmnetu'));
  const run = (args: string[]) =>
    spawnSync(join(dir, 'bmnetu'), args, {
      env: { PATH: SYSTEM_PATH, BMF_FAKE_TPU_NNTC: 'current' },
      encoding: 'utf8',
    });
  const unknown = run(['-model=x', '-weight=y', '-calibration_table=z']);
  t.equal(unknown.status, 1);
  t.match(unknown.stderr, /unknown command line flag 'calibration_table'/);
  const badInt = run(['-opt=high']);
  t.match(badInt.stderr, /illegal value 'high' specified for int32 flag 'opt'/);
});

t.test(
  'current release: LMDB from bmfleet preprocessing, FP32 UMODEL, calibration_use_pb, bmnetu, BMODEL read back',
  { skip },
  async (t) => {
    const s = await setup(t, 'current');
    const r = await cli(s.base('o'), s.env);
    t.equal(r.exit, 0, r.stderr);
    const calls = s.calls().filter((c) => !c.argv.includes('--help'));
    t.same(
      calls.map((c) => c.tool),
      ['python3', 'python3', 'calibration_use_pb', 'bmnetu'],
    );
    const [lmdbScript, toUmodel, calib, bmnetu] = calls as [Call, Call, Call, Call];
    t.match(lmdbScript.argv[0], /bmfleet_npy_to_lmdb\.py$/);
    t.same(toUmodel.argv.slice(0, 3), ['-m', 'ufw.tools.on_to_umodel', '-m']);
    t.equal(toUmodel.argv[toUmodel.argv.indexOf('-s') + 1], '(1,1,6,6)');
    t.equal(toUmodel.argv[toUmodel.argv.indexOf('-D') + 1], lmdbScript.argv[2]);
    t.equal(calib.argv[0], 'quantize');
    t.equal(gflag(calib.argv, 'iterations'), '5', 'every calibration image');
    t.equal(gflag(calib.argv, 'bitwidth'), 'TO_INT8');
    t.equal(gflag(calib.argv, 'fpfwd_outputs'), undefined, 'no quantize table, nothing in float');
    t.match(gflag(calib.argv, 'model')!, /toy_bmneto_test_fp32\.prototxt$/);
    t.equal(gflag(bmnetu.argv, 'target'), 'BM1684X');
    t.equal(gflag(bmnetu.argv, 'prec'), 'INT8');
    t.equal(gflag(bmnetu.argv, 'shapes'), '[1,1,6,6]');
    t.equal(gflag(bmnetu.argv, 'net_name'), 'toy');
    t.match(gflag(bmnetu.argv, 'weight')!, /toy_bmneto\.int8umodel$/);

    // The LMDB holds exactly the tensors bmfleet's preprocessing gives the agent.
    const records = readFileSync(join(lmdbScript.argv[2]!, 'data.mdb'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { shape: number[]; dtype: string; values: number[] });
    const ours = await loadDatasetInputs(
      await readDataset(join(s.dir, 'calib'), 'calibration'),
      parsePreprocessSpec(SPEC),
    );
    t.equal(records.length, ours.length);
    records.forEach((rec, i) => {
      t.same(rec.shape, [1, 6, 6]);
      t.equal(rec.dtype, 'float32');
      t.same(rec.values, [...ours[i]!.tensor.data], `image ${i} exactly (float32 both sides)`);
    });

    const bytes = readFileSync(join(s.dir, 'o', 'toy_int8.bmodel'));
    t.equal(readBmodel(bytes).chip, 'BM1684X');
    t.match(r.stdout, /tpu-nntc 3\.1\.7/);
    t.match(r.stdout, /calibration_use_pb on 5 of 5 images/);
    t.match(r.stdout, /bmnetu -cmp=1/);
  },
);

t.test("bmfleet's quantize table keeps its F32 layers in float", { skip }, async (t) => {
  const s = await setup(t, 'current');
  const q = join(s.dir, 'qtable');
  writeFileSync(q, '# tuned\nlogits F32\n');
  const r = await cli([...s.base('o'), '--quantize-table', q, '--input-num', '3'], s.env);
  t.equal(r.exit, 0, r.stderr);
  const calib = s.calls().find((c) => c.tool === 'calibration_use_pb' && c.argv[0] === 'quantize')!;
  t.equal(gflag(calib.argv, 'fpfwd_outputs'), 'logits');
  t.equal(gflag(calib.argv, 'iterations'), '3');
  t.match(r.stdout, /layers kept in float: logits/);
});

t.test(
  'what the release or the path cannot do is refused before anything is built',
  { skip },
  async (t) => {
    const cases = [
      {
        name: 'BM1688 is a tpu-mlir chip',
        profile: 'current' as const,
        extra: [],
        chip: 'bm1688',
        code: 'BMF_ERR_TOOLCHAIN_VERSION',
        mentions: /BM1688 is built with tpu-mlir only/,
      },
      {
        name: 'a release before BM1684X',
        profile: 'old' as const,
        extra: [],
        chip: 'bm1684x',
        code: 'BMF_ERR_TOOLCHAIN_VERSION',
        mentions:
          /tpu-nntc 2\.7\.0 cannot do this: BM1684X: bmnetu -target of this release lists BM1684/,
      },
      {
        name: 'a calibration table',
        profile: 'current' as const,
        extra: ['--calibration-table', 'cali_table'],
        chip: 'bm1684x',
        code: 'BMF_ERR_USAGE',
        mentions: /takes no calibration table/,
      },
      {
        name: 'a tolerance',
        profile: 'current' as const,
        extra: ['--tolerance', '0.9,0.7'],
        chip: 'bm1684x',
        code: 'BMF_ERR_USAGE',
        mentions: /--tolerance is model_deploy/,
      },
    ];
    for (const c of cases) {
      const s = await setup(t, c.profile);
      const r = await cli([...s.base('o', c.chip), ...c.extra], s.env);
      t.not(r.exit, 0, c.name);
      t.match(r.stderr, c.code, c.name);
      t.match(r.stderr, c.mentions, c.name);
      t.notOk(
        s.calls().some((x) => x.tool === 'bmnetu' && !x.argv.includes('--help')),
        `${c.name}: bmnetu never compiled`,
      );
      const out = join(s.dir, 'o');
      t.same(
        (existsSync(out) ? readdirSync(out, { withFileTypes: true }) : [])
          .filter((e) => e.isFile() && e.name.endsWith('.bmodel'))
          .map((e) => e.name),
        [],
        `${c.name}: no BMODEL written`,
      );
    }
  },
);

t.test(
  'umodel build refuses tpu-nntc, which cannot take its calibration table',
  { skip },
  async (t) => {
    const s = await setup(t, 'current');
    const u = join(s.dir, 'toy.fp32umodel');
    const exported = await cli(
      [
        'umodel',
        'export',
        '--model',
        join(s.dir, 'toy.onnx'),
        '--preprocess',
        join(s.dir, 'spec.json'),
        '--out',
        u,
      ],
      s.env,
    );
    t.equal(exported.exit, 0, exported.stderr);
    writeFileSync(join(s.dir, 'cali_table'), '# empty\n');
    const r = await cli(
      [
        'umodel',
        'build',
        u,
        '--target',
        'tpu-nntc',
        '--cali-table',
        join(s.dir, 'cali_table'),
        '--chip',
        'bm1684x',
        '--out',
        join(s.dir, 'b'),
      ],
      s.env,
    );
    t.not(r.exit, 0);
    t.match(r.stderr, /BMF_ERR_USAGE/);
    t.match(r.stderr, /use --target tpu-mlir/);
    t.same(s.calls(), [], 'no vendor tool ran');
  },
);
