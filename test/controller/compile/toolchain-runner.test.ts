// The vendor toolchains are NOT installed here. These tests run fake executables written into a
// temp dir on PATH, which exercises bmfleet's own process handling (lookup, argv, logs, exit
// codes, missing or wrong output) honestly; they say nothing about the real vendor tools.
import t from 'tap';
import type { Test } from 'tap';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileModel } from '../../../controller/compile/index.js';
import { encodeOnnx } from '../../../controller/onnx/index.js';
import { readBmodel, writeBmodel } from '../../../shared/bmodel/index.js';
import { parsePreprocessSpec } from '../../../shared/preprocess/index.js';
import { modelFromFixture, readModelFixture } from '../onnx/fixture-model.js';

const spec = parsePreprocessSpec({
  resize_dims: [6, 6],
  pixel_format: 'gray',
  mean: [128],
  scale: [1 / 128],
});
const SYSTEM_PATH = '/usr/bin:/bin';

function bmodelFor(chip: string): Uint8Array {
  return writeBmodel({
    chip,
    nets: [
      {
        name: 'crg',
        stages: [
          {
            inputs: [{ name: 'x', dtype: 'FP32', shape: [1, 1, 6, 6] }],
            outputs: [{ name: 'y', dtype: 'FP32', shape: [1, 3] }],
          },
        ],
      },
    ],
  });
}

function script(dir: string, name: string, body: string): void {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho "$0 $*" >> "$BMF_FAKE_ARGV"\n${body}\n`);
  chmodSync(path, 0o755);
}

// Shell helpers: value of "--flag value" or "--flag=value" from "$@".
const ARG = (flag: string): string =>
  `v=""; prev=""; for a in "$@"; do [ "$prev" = "${flag}" ] && v="$a"; case "$a" in ${flag}=*) v="\${a#${flag}=}";; esac; prev="$a"; done`;

const DEPLOY = {
  ok: `${ARG('--model')}; cp "$BMF_FAKE_BMODEL" "$v"; echo deployed`,
  fail: 'echo "ERROR: op Foo has no lowering" >&2; exit 1',
  silent: 'echo "pretending to work"; exit 0',
};

function setup(t: Test, deploy: keyof typeof DEPLOY, chip = 'BM1684X') {
  const dir = t.testdir({ bin: {}, out: {} });
  const bin = join(dir, 'bin');
  writeFileSync(join(dir, 'fake.bmodel'), bmodelFor(chip));
  script(bin, 'model_transform.py', `${ARG('--mlir')}; echo "module {}" > "$v"; echo transformed`);
  script(bin, 'model_deploy.py', DEPLOY[deploy]);
  script(
    bin,
    'python3',
    `[ "$2" = "bmneto" ] || exit 3; ${ARG('--outdir')}; mkdir -p "$v"; cp "$BMF_FAKE_BMODEL" "$v/compilation.bmodel"`,
  );
  script(bin, 'bmnetu', 'exit 0');
  const modelPath = join(dir, 'crg.onnx');
  writeFileSync(modelPath, encodeOnnx(modelFromFixture(readModelFixture())));
  const env = {
    PATH: `${bin}:${SYSTEM_PATH}`,
    BMF_FAKE_BMODEL: join(dir, 'fake.bmodel'),
    BMF_FAKE_ARGV: join(dir, 'argv.log'),
  };
  return { dir, bin, modelPath, env, out: join(dir, 'out') };
}

t.test('tpu-mlir: both steps run, the BMODEL is read back and checked', async (t) => {
  const s = setup(t, 'ok');
  const r = await compileModel({
    modelPath: s.modelPath,
    chip: 'bm1684x',
    precision: 'fp32',
    preprocess: spec,
    outDir: s.out,
    target: 'tpu-mlir',
    env: s.env,
  });
  t.equal(r.report.target, 'tpu-mlir');
  t.equal(r.report.validation, null, 'no host-side similarity claimed for a vendor BMODEL');
  t.match(r.report.validationNote, /model_deploy/);
  t.equal(readBmodel(new Uint8Array(readFileSync(r.bmodelPath))).chip, 'BM1684X');
  const calls = readFileSync(s.env.BMF_FAKE_ARGV, 'utf8').trim().split('\n');
  t.equal(calls.length, 2);
  t.match(
    calls[0],
    /model_transform\.py --model_name crg --model_def .*crg\.onnx --input_shapes \[\[1,1,6,6\]\] --resize_dims 6,6 --pixel_format gray/,
  );
  t.match(
    calls[1],
    /model_deploy\.py --mlir .*crg\.mlir --quantize F32 --chip bm1684x --test_input .*crg_in_f32\.npz --test_reference .*crg_top_outputs\.npz --tolerance 0\.99999,0\.999 --model .*crg_bm1684x_fp32\.bmodel/,
  );
  t.ok(
    existsSync(join(s.out, 'work-tpu-mlir', 'crg_test_input.npy')),
    'test input written as .npy',
  );
  const log = readFileSync(join(s.out, 'tpu-mlir.log'), 'utf8');
  t.match(log, /### model_transform: /);
  t.match(log, /deployed/);
});

t.test('tpu-mlir found through BMFLEET_TPU_MLIR_DIR/python/tools', async (t) => {
  const s = setup(t, 'ok');
  const root = join(s.dir, 'tpu-mlir');
  mkdirSync(join(root, 'python'), { recursive: true });
  // Move the fakes under the release layout by writing them again there, and drop them from PATH.
  const tools = join(root, 'python', 'tools');
  mkdirSync(tools);
  script(tools, 'model_transform.py', `${ARG('--mlir')}; echo "module {}" > "$v"`);
  script(tools, 'model_deploy.py', DEPLOY.ok);
  const env = { ...s.env, PATH: SYSTEM_PATH, BMFLEET_TPU_MLIR_DIR: root };
  const r = await compileModel({
    modelPath: s.modelPath,
    chip: 'bm1684x',
    precision: 'fp16',
    preprocess: spec,
    outDir: s.out,
    target: 'tpu-mlir',
    env,
  });
  t.match(readFileSync(s.env.BMF_FAKE_ARGV, 'utf8'), /--quantize F16/);
  t.ok(existsSync(r.bmodelPath));
});

t.test('tpu-nntc: bmneto through python3, compilation.bmodel copied out', async (t) => {
  const s = setup(t, 'ok');
  const r = await compileModel({
    modelPath: s.modelPath,
    chip: 'bm1684x',
    precision: 'fp32',
    preprocess: spec,
    outDir: s.out,
    target: 'tpu-nntc',
    env: s.env,
  });
  t.match(
    readFileSync(s.env.BMF_FAKE_ARGV, 'utf8'),
    /python3 -m bmneto --model=.*crg\.onnx --shapes=\[1,1,6,6\] --target=BM1684X --outdir=.*compilation --net_name=crg --opt=1/,
  );
  t.equal(readBmodel(new Uint8Array(readFileSync(r.bmodelPath))).nets[0]?.name, 'crg');
  t.match(r.report.validationNote, /not run/);
});

const failures = [
  {
    name: 'missing toolchain',
    deploy: 'ok',
    pathOnly: SYSTEM_PATH,
    code: 'BMF_ERR_TOOLCHAIN_MISSING',
    mentions: ['model_transform.py', 'BMFLEET_TPU_MLIR_DIR'],
  },
  {
    name: 'a step exits 1',
    deploy: 'fail',
    code: 'BMF_ERR_TOOLCHAIN_FAILED',
    mentions: ['model_deploy', 'exit code 1', 'no lowering'],
  },
  {
    name: 'a step succeeds but writes nothing',
    deploy: 'silent',
    code: 'BMF_ERR_TOOLCHAIN_OUTPUT',
    mentions: ['crg_bm1684x_fp32.bmodel'],
  },
  {
    name: 'the BMODEL is for another chip',
    deploy: 'ok',
    chip: 'BM1684',
    code: 'BMF_ERR_COMPILE_VALIDATION',
    mentions: ['chip is BM1684, expected BM1684X'],
  },
] as const;

for (const f of failures) {
  t.test(`tpu-mlir: ${f.name}`, async (t) => {
    const s = setup(t, f.deploy, 'chip' in f ? f.chip : 'BM1684X');
    const env = 'pathOnly' in f ? { ...s.env, PATH: f.pathOnly } : s.env;
    let caught: { code?: string; message?: string } | undefined;
    try {
      await compileModel({
        modelPath: s.modelPath,
        chip: 'bm1684x',
        precision: 'fp32',
        preprocess: spec,
        outDir: s.out,
        target: 'tpu-mlir',
        env,
      });
    } catch (e) {
      caught = e as { code?: string; message?: string };
    }
    t.equal(caught?.code, f.code);
    for (const m of f.mentions) t.match(caught?.message ?? '', m);
    t.notOk(
      existsSync(join(s.out, 'compile-report.json')),
      'no report of a success that did not happen',
    );
  });
}

t.test('tpu-nntc refuses fp16 up front', async (t) => {
  const s = setup(t, 'ok');
  await t.rejects(
    compileModel({
      modelPath: s.modelPath,
      chip: 'bm1684x',
      precision: 'fp16',
      preprocess: spec,
      outDir: s.out,
      target: 'tpu-nntc',
      env: s.env,
    }),
    { code: 'BMF_ERR_PRECISION_UNSUPPORTED' },
  );
  t.notOk(existsSync(s.env.BMF_FAKE_ARGV), 'no tool was run');
});
