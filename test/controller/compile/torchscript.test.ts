// TorchScript (.pt) input. The Fashion-MNIST example's network is traced at test time from the
// committed model.onnx's weights (examples/fashion-mnist/trace.py), compiled from the .pt, and
// must behave like the BMODEL compiled from the committed ONNX. PyTorch is the real one
// (Debian python3-torch, or $BMFLEET_PYTHON); where it is absent those tests are skipped with the
// reason. The vendor toolchains are fakes on PATH that record their argv (as in
// toolchain-runner.test.ts): they prove the command lines, not the vendor tools.
import t from 'tap';
import type { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileModel, randomFeeds } from '../../../controller/compile/index.js';
import type { CompileOptions } from '../../../controller/compile/index.js';
import { runOnnx } from '../../../controller/onnx/index.js';
import { readBmodel, simulatorPayload, writeBmodel } from '../../../shared/bmodel/index.js';
import { isBmfError } from '../../../shared/errors.js';
import { parsePreprocessSpec } from '../../../shared/preprocess/index.js';
import { compareTensors } from '../../../shared/stats/similarity.js';
import { runCli, type CliRun } from '../../../harness/cli.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const EXAMPLE = join(ROOT, 'examples/fashion-mnist');
const fmSpec = parsePreprocessSpec(
  JSON.parse(readFileSync(join(EXAMPLE, 'preprocess.json'), 'utf8')) as unknown,
);
const tinySpec = parsePreprocessSpec({
  resize_dims: [6, 6],
  pixel_format: 'gray',
  mean: [128],
  scale: [1 / 128],
});

function runs(python: string, code: string): boolean {
  const r = spawnSync(python, ['-c', code], { stdio: 'ignore', timeout: 300_000 });
  return r.status === 0;
}

/** An interpreter (any) and one that imports torch: $BMFLEET_PYTHON, Debian's, then PATH's. */
const candidates = [process.env.BMFLEET_PYTHON, '/usr/bin/python3', 'python3'].filter(
  (p): p is string => !!p,
);
const anyPython = candidates.find((p) => runs(p, 'import sys'));
const torchPython = candidates.find((p) => runs(p, 'import torch, numpy'));
const noTorch = torchPython
  ? false
  : 'PyTorch not importable (install Debian python3-torch or set BMFLEET_PYTHON)';

function env(python: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', BMFLEET_PYTHON: python, ...extra };
}

function py(t: Test, code: string, cwd: string): void {
  const r = spawnSync(torchPython ?? 'python3', ['-c', code], {
    cwd,
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.status !== 0) t.fail(`python failed: ${r.stderr}`);
}

async function rejectsCode(
  t: Test,
  p: Promise<unknown>,
  code: string,
  match?: RegExp,
): Promise<Error | undefined> {
  try {
    await p;
    t.fail(`expected ${code}`);
    return undefined;
  } catch (e) {
    t.ok(isBmfError(e, code as never), `${code}: ${(e as Error).message}`);
    if (match) t.match(`${(e as Error).message} ${JSON.stringify(e)}`, match);
    return e as Error;
  }
}

const TINY = `
import torch
from torch import nn
torch.manual_seed(0)
m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(144, 3)).eval()
torch.jit.trace(m, torch.zeros(1, 1, 6, 6)).save('tiny.pt')
torch.save(m.state_dict(), 'weights.pt')
torch.save(m, 'eager.pt')
`;

t.test('a .pt without --input-shapes is refused before Python starts', async (t) => {
  const dir = t.testdir({ 'm.pt': 'PK\x03\x04 not really a zip' });
  const outDir = join(dir, 'out');
  await rejectsCode(
    t,
    compileModel({
      modelPath: join(dir, 'm.pt'),
      chip: 'bm1684x',
      precision: 'fp32',
      preprocess: tinySpec,
      outDir,
      env: env('/nonexistent/python3'),
    }),
    'BMF_ERR_TORCHSCRIPT_SHAPES',
    /--input-shapes/,
  );
  t.notOk(existsSync(outDir), 'nothing written');
});

t.test('a missing interpreter is a typed error naming what to install', async (t) => {
  const dir = t.testdir({ 'm.pt': 'PK\x03\x04' });
  await rejectsCode(
    t,
    compileModel({
      modelPath: join(dir, 'm.pt'),
      inputShapes: [[1, 1, 6, 6]],
      chip: 'bm1684x',
      precision: 'fp32',
      preprocess: tinySpec,
      outDir: join(dir, 'out'),
      env: env(join(dir, 'no-such-python3')),
    }),
    'BMF_ERR_PYTHON_MISSING',
    /python3-torch/,
  );
});

t.test(
  'an interpreter without torch is a typed error naming python3-torch',
  { skip: anyPython ? false : 'no python3 interpreter' },
  async (t) => {
    // A module named torch that fails to import as a missing torch does, first on the path.
    const dir = t.testdir({
      shadow: {
        'torch.py': "raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n",
      },
      'm.pt': 'PK\x03\x04',
    });
    await rejectsCode(
      t,
      compileModel({
        modelPath: join(dir, 'm.pt'),
        inputShapes: [[1, 1, 6, 6]],
        chip: 'bm1684x',
        precision: 'fp32',
        preprocess: tinySpec,
        outDir: join(dir, 'out'),
        env: env(anyPython ?? 'python3', { PYTHONPATH: join(dir, 'shadow') }),
      }),
      'BMF_ERR_TORCH_MISSING',
      /python3-torch/,
    );
  },
);

t.test(
  'Fashion-MNIST: the traced .pt compiles to the behaviour of the committed ONNX',
  { skip: noTorch },
  async (t) => {
    const dir = t.testdir({});
    const pt = join(dir, 'model.pt');
    const r = spawnSync(torchPython ?? '', [join(EXAMPLE, 'trace.py'), '--out', pt], {
      encoding: 'utf8',
      timeout: 600_000,
    });
    t.equal(r.status, 0, `trace.py: ${r.stderr}`);
    const base: Omit<CompileOptions, 'modelPath' | 'outDir'> = {
      inputShapes: [[1, 1, 28, 28]],
      chip: 'bm1684x',
      precision: 'fp32',
      preprocess: fmSpec,
      randomSamples: 4,
      seed: 7,
      env: env(torchPython ?? ''),
    };
    const fromPt = await compileModel({ ...base, modelPath: pt, outDir: join(dir, 'pt') });
    const rep = fromPt.report;
    t.equal(rep.source?.format, 'torchscript');
    t.equal(rep.source?.sha256, createHash('sha256').update(readFileSync(pt)).digest('hex'));
    t.equal(rep.model.sha256, rep.source?.sha256, 'the report names the .pt, not the ONNX');
    t.match(rep.source?.torchVersion, /^\d+\.\d+/);
    t.ok((rep.source?.opset ?? 0) >= 7, `opset ${rep.source?.opset}`);
    t.ok(rep.torchscriptValidation?.export.pass, 'ONNX export matches TorchScript');
    t.ok(rep.torchscriptValidation?.bmodel?.pass, 'BMODEL matches TorchScript');
    t.equal(rep.torchscriptValidation?.bmodel?.samples, 4);
    const saved = JSON.parse(readFileSync(fromPt.reportPath, 'utf8')) as typeof rep;
    t.same(saved.source, rep.source, 'provenance is in compile-report.json');

    const fromOnnx = await compileModel({
      ...base,
      modelPath: join(EXAMPLE, 'model.onnx'),
      outDir: join(dir, 'onnx'),
    });
    const payload = (path: string): Uint8Array => {
      const bytes = new Uint8Array(readFileSync(path));
      return simulatorPayload(bytes, readBmodel(bytes));
    };
    const a = payload(fromPt.bmodelPath);
    const b = payload(fromOnnx.bmodelPath);
    // Same inputs to both BMODELs (input names differ: the trace's argument vs the ONNX export's).
    const feeds = randomFeeds([{ name: 'x', shape: [1, 1, 28, 28] }], fmSpec, 8, 99);
    let worstCos = 1;
    let worstAbs = 0;
    for (const f of feeds) {
      const x = f.x;
      if (!x) throw new Error('no feed');
      const [ya] = Object.values(await runOnnx(a, { [rep.inputs[0]?.name ?? '']: x }));
      const [yb] = Object.values(await runOnnx(b, { [fromOnnx.report.inputs[0]?.name ?? '']: x }));
      if (!ya || !yb) throw new Error('no output');
      worstCos = Math.min(worstCos, compareTensors(yb, ya, { cosine: 0, euclidean: 0 }).cosine);
      for (let i = 0; i < ya.data.length; i++) {
        worstAbs = Math.max(worstAbs, Math.abs(Number(ya.data[i]) - Number(yb.data[i])));
      }
    }
    // Tolerance: float32 reassociation between two exports of one network (logits of size ~10).
    t.ok(worstCos >= 0.99999, `cosine ${worstCos} >= 0.99999`);
    t.ok(worstAbs <= 1e-3, `max |logit difference| ${worstAbs} <= 1e-3`);
  },
);

t.test('files that are not TorchScript say how to trace', { skip: noTorch }, async (t) => {
  const dir = t.testdir({});
  py(t, TINY, dir);
  const opts = (file: string, shapes = [[1, 1, 6, 6]]): CompileOptions => ({
    modelPath: join(dir, file),
    inputShapes: shapes,
    chip: 'bm1684x',
    precision: 'fp32',
    preprocess: tinySpec,
    outDir: join(dir, `out-${file}`),
    env: env(torchPython ?? ''),
  });
  await rejectsCode(
    t,
    compileModel(opts('weights.pt')),
    'BMF_ERR_NOT_TORCHSCRIPT',
    /state_dict.*torch\.jit\.trace\(model, torch\.zeros\(1, 1, 6, 6\)\)/,
  );
  await rejectsCode(
    t,
    compileModel(opts('eager.pt')),
    'BMF_ERR_NOT_TORCHSCRIPT',
    /eager Sequential module.*torch\.jit\.trace/,
  );
  await rejectsCode(
    t,
    compileModel(
      opts('tiny.pt', [
        [1, 1, 6, 6],
        [1, 2],
      ]),
    ),
    'BMF_ERR_TORCHSCRIPT_SHAPES',
    /takes 1 input/,
  );
  t.notOk(existsSync(join(dir, 'out-weights.pt', 'compile-report.json')), 'no report written');
});

function fakeTool(dir: string, name: string, body: string): void {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho "$0 $*" >> "$BMF_FAKE_ARGV"\n${body}\n`);
  chmodSync(path, 0o755);
}
const ARG = (flag: string): string =>
  `v=""; prev=""; for a in "$@"; do [ "$prev" = "${flag}" ] && v="$a"; case "$a" in ${flag}=*) v="\${a#${flag}=}";; esac; prev="$a"; done`;

t.test(
  'vendor targets get the .pt itself: bmnetp and model_transform',
  { skip: noTorch },
  async (t) => {
    const dir = t.testdir({ bin: {} });
    py(t, TINY, dir);
    const fake = join(dir, 'fake.bmodel');
    writeFileSync(
      fake,
      writeBmodel({
        chip: 'BM1684X',
        nets: [
          {
            name: 'tiny',
            stages: [
              {
                inputs: [{ name: 'input', dtype: 'FP32', shape: [1, 1, 6, 6] }],
                outputs: [{ name: 'output', dtype: 'FP32', shape: [1, 3] }],
              },
            ],
          },
        ],
      }),
    );
    const bin = join(dir, 'bin');
    // The nntc "python3" is the vendor environment's, found on PATH; bmfleet's own export uses
    // BMFLEET_PYTHON.
    fakeTool(
      bin,
      'python3',
      `[ "$2" = "bmnetp" ] || exit 3; ${ARG('--outdir')}; mkdir -p "$v"; cp "$BMF_FAKE_BMODEL" "$v/compilation.bmodel"`,
    );
    fakeTool(bin, 'model_transform.py', `${ARG('--mlir')}; echo "module {}" > "$v"`);
    fakeTool(bin, 'model_deploy.py', `${ARG('--model')}; cp "$BMF_FAKE_BMODEL" "$v"`);
    const argvLog = join(dir, 'argv.log');
    const e = env(torchPython ?? '', {
      PATH: `${bin}:/usr/bin:/bin`,
      BMF_FAKE_BMODEL: fake,
      BMF_FAKE_ARGV: argvLog,
    });
    const pt = join(dir, 'tiny.pt');
    for (const target of ['tpu-nntc', 'tpu-mlir'] as const) {
      const r = await compileModel({
        modelPath: pt,
        inputShapes: [[1, 1, 6, 6]],
        chip: 'bm1684x',
        precision: 'fp32',
        preprocess: tinySpec,
        target,
        outDir: join(dir, target),
        env: e,
      });
      t.equal(r.report.source?.format, 'torchscript', `${target}: provenance`);
      t.ok(r.report.torchscriptValidation?.export.pass, `${target}: export checked`);
    }
    const lines = readFileSync(argvLog, 'utf8').trim().split('\n');
    const nntc = lines.find((l) => / -m bmnetp /.test(l)) ?? '';
    t.match(nntc, `--model=${pt} --shapes=[1,1,6,6] --target=BM1684X`);
    t.match(nntc, /--net_name=tiny --opt=1/);
    const transform = lines.find((l) => l.includes('model_transform.py')) ?? '';
    t.match(transform, `--model_def ${pt} --input_shapes [[1,1,6,6]]`);
    t.notOk(
      lines.some((l) => / -m bmneto /.test(l)),
      'bmneto is not used for a .pt',
    );
  },
);

const cli = (argv: string[], environment: Record<string, string>): Promise<CliRun> =>
  runCli(argv, environment);

t.test(
  'CLI: compile prints the TorchScript checks; umodel export takes a .pt',
  { skip: noTorch },
  async (t) => {
    const dir = t.testdir({ 'spec.json': JSON.stringify(tinySpec) });
    py(t, TINY, dir);
    const e = env(torchPython ?? '');
    const common = ['--input-shapes', '[[1,1,6,6]]', '--preprocess', join(dir, 'spec.json')];
    const c = await cli(
      [
        'compile',
        '--model',
        join(dir, 'tiny.pt'),
        ...common,
        '--chip',
        'bm1684x',
        '--opset',
        '13',
        '--out',
        join(dir, 'c'),
      ],
      e,
    );
    t.equal(c.code, 0, c.err);
    t.match(c.out, /source {5}TorchScript .*tiny\.pt \(sha256 [0-9a-f]{16}/);
    t.match(c.out, /export {5}PyTorch \S+, ONNX opset 13 ->/);
    t.match(c.out, /ONNX export vs TorchScript on 4 input\(s\)/);
    t.match(c.out, /BMODEL vs TorchScript on 4 input\(s\)[^]*output .* PASS/);
    // The bundle carries the .pt's provenance: its digest as the source model, and in metadata.
    const bmodel = readdirSync(join(dir, 'c')).find((f) => f.endsWith('.bmodel')) ?? '';
    const pk = await cli(
      [
        'package',
        '--bmodel',
        join(dir, 'c', bmodel),
        '--preprocess',
        join(dir, 'spec.json'),
        '--name',
        'tiny',
        '--version',
        '1.0.0',
        '--sequence',
        '1',
        '--chip',
        'bm1684x',
        '--precision',
        'fp32',
        '--source-model',
        join(dir, 'tiny.pt'),
        '--json',
        '--out',
        join(dir, 'bundle'),
      ],
      e,
    );
    t.equal(pk.code, 0, pk.err);
    const manifest = JSON.parse(pk.out) as {
      provenance: { sourceModelSha256: string };
      metadata: {
        source?: { format: string; sha256: string; torchVersion: string; opset: number };
      };
    };
    const ptSha = createHash('sha256')
      .update(readFileSync(join(dir, 'tiny.pt')))
      .digest('hex');
    t.equal(manifest.provenance.sourceModelSha256, ptSha, 'bundle names the .pt');
    t.same(manifest.metadata.source?.sha256, ptSha);
    t.equal(manifest.metadata.source?.format, 'torchscript');
    t.equal(manifest.metadata.source?.opset, 13, 'the opset used');
    t.match(manifest.metadata.source?.torchVersion, /^\d+\.\d+/);
    const u = await cli(
      [
        'umodel',
        'export',
        '--model',
        join(dir, 'tiny.pt'),
        ...common,
        '--out',
        join(dir, 'tiny.fp32umodel'),
      ],
      e,
    );
    t.equal(u.code, 0, u.err);
    t.match(u.err, /TorchScript .*tiny\.pt .* -> .*tiny\.onnx: PyTorch \S+, opset \d+/);
    t.ok(existsSync(join(dir, 'tiny.fp32umodel')), 'UMODEL written');
  },
);
