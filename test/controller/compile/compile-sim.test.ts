import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  compareModels,
  compileModel,
  formatCompileReport,
  TOLERANCES,
} from '../../../controller/compile/index.js';
import type { CompileReport } from '../../../controller/compile/index.js';
import {
  encodeOnnx,
  float32Tensor,
  graphInputs,
  loadOnnx,
  ONNX_DTYPE,
  replaceInitializer,
  valueInfo,
} from '../../../controller/onnx/index.js';
import { isSimulatorBmodel, readBmodel, simulatorPayload } from '../../../shared/bmodel/index.js';
import { parsePreprocessSpec } from '../../../shared/preprocess/index.js';
import { modelFromFixture, readModelFixture } from '../onnx/fixture-model.js';

interface SimCase {
  name: string;
  chip: string;
  precision: string;
  /** The precision the report names when `precision` is spelled another way (the vendor's F16). */
  reported?: string;
  code: string | null;
  edit?: { opType?: string; inputDims?: (number | string)[] };
  inputShapes?: number[][];
  spec?: unknown;
  minCosine?: number;
  payloadIsInput?: boolean;
  outputShape?: number[];
}
const table = JSON.parse(
  readFileSync(new URL('../../fixtures/compile/sim-cases.json', import.meta.url), 'utf8'),
) as {
  spec: unknown;
  cases: SimCase[];
};
const base = modelFromFixture(readModelFixture());

function modelBytes(edit: SimCase['edit']): Uint8Array {
  if (!edit) return encodeOnnx(base);
  const node = (base.graph.node ?? []).map((n) =>
    n.opType === 'Relu' && edit.opType ? { ...n, opType: edit.opType } : n,
  );
  const input = edit.inputDims ? [valueInfo('x', 1, edit.inputDims)] : base.graph.input;
  return encodeOnnx({ ...base, graph: { ...base.graph, node, input } });
}

for (const c of table.cases) {
  t.test(c.name, async (t) => {
    const dir = t.testdir({});
    const modelPath = join(dir, 'crg.onnx');
    const bytes = modelBytes(c.edit);
    writeFileSync(modelPath, bytes);
    const outDir = join(dir, 'out');
    const run = compileModel({
      modelPath,
      chip: c.chip,
      precision: c.precision,
      preprocess: parsePreprocessSpec(c.spec ?? table.spec),
      ...(c.inputShapes ? { inputShapes: c.inputShapes } : {}),
      outDir,
    });
    if (c.code) {
      await t.rejects(run, { code: c.code });
      t.notOk(existsSync(join(outDir, 'compile-report.json')), 'nothing reported');
      return;
    }
    const r = await run;
    const file = new Uint8Array(readFileSync(r.bmodelPath));
    const b = readBmodel(file);
    t.equal(b.chip, c.chip.toUpperCase(), 'chip in vendor spelling');
    t.ok(isSimulatorBmodel(b), 'marked as a simulator BMODEL');
    t.equal(b.nets.length, 1);
    t.equal(b.nets[0]?.name, 'crg', 'net named after the model file');
    const stage = b.nets[0]?.stages[0];
    t.same(
      stage?.inputs.map((i) => [i.name, i.dtype, i.scale, [...i.shape]]),
      [['x', 'FP32', 1, c.inputShapes?.[0] ?? [1, 1, 6, 6]]],
    );
    t.same(
      stage?.outputs.map((o) => [o.name, o.dtype, [...o.shape]]),
      [['y', 'FP32', c.outputShape ?? [1, 3]]],
    );
    const payload = simulatorPayload(file, b);
    t.equal(
      Buffer.from(payload).equals(Buffer.from(bytes)),
      c.payloadIsInput === true,
      'payload is the input ONNX exactly when fp32',
    );
    t.doesNotThrow(() => loadOnnx(payload), 'payload is ONNX');
    const precision = c.reported ?? c.precision;
    if (precision === 'fp16' || precision === 'bf16') {
      const weights = loadOnnx(payload).graph.initializer ?? [];
      t.ok(weights.length > 0);
      t.notOk(
        weights.some((w) => w.dataType === ONNX_DTYPE.FLOAT),
        `${precision} weights stored as ${precision}, none as FP32`,
      );
    }
    const report = JSON.parse(readFileSync(r.reportPath, 'utf8')) as CompileReport;
    t.equal(report.target, 'sim');
    t.equal(report.precision, precision);
    t.equal(report.model.sha256.length, 64);
    t.ok(report.validation?.pass);
    t.ok(
      (report.validation?.outputs[0]?.cosine ?? 0) >= (c.minCosine ?? 1),
      `cosine ${report.validation?.outputs[0]?.cosine}`,
    );
    t.ok(
      'modeled' in report.modeledLatency && report.modeledLatency.modeled,
      'latency labelled modeled',
    );
    const printed = formatCompileReport(report);
    t.match(printed, /MODELED/);
    t.match(printed, /PASS/);
  });
}

t.test('validation fails when the compiled model computes something else', async (t) => {
  const fixture = readModelFixture();
  const reference = encodeOnnx(base);
  const wrong = encodeOnnx(
    replaceInitializer(base, float32Tensor('fc_b', [3], Float32Array.from([5, -5, 5]))),
  );
  const feeds = [
    {
      x: {
        dtype: 'float32' as const,
        shape: [1, 1, 6, 6],
        data: Float32Array.from(fixture.expected.input),
      },
    },
  ];
  const v = await compareModels(reference, wrong, feeds, TOLERANCES.fp32);
  t.notOk(v.pass);
  t.ok((v.outputs[0]?.cosine ?? 1) < 0.99999);
  const same = await compareModels(reference, reference, feeds, TOLERANCES.fp32);
  t.ok(same.pass);
  t.equal(same.outputs[0]?.sqnrDb, 'inf');
});

t.test('test images go through the shared preprocessing', async (t) => {
  const dir = t.testdir({});
  const img = join(dir, 'img.png');
  await sharp(Buffer.from(Array.from({ length: 36 }, (_, i) => i * 7)), {
    raw: { width: 6, height: 6, channels: 1 },
  })
    .png()
    .toFile(img);
  writeFileSync(join(dir, 'crg.onnx'), encodeOnnx(base));
  const r = await compileModel({
    modelPath: join(dir, 'crg.onnx'),
    chip: 'bm1684x',
    precision: 'fp32',
    preprocess: parsePreprocessSpec(table.spec),
    outDir: join(dir, 'out'),
    testInputs: [img, img],
  });
  t.equal(r.report.validation?.samples, 2);
  await t.rejects(
    compileModel({
      modelPath: join(dir, 'crg.onnx'),
      chip: 'bm1684x',
      precision: 'fp32',
      preprocess: parsePreprocessSpec(table.spec),
      outDir: join(dir, 'out2'),
      testInputs: [join(dir, 'missing.png')],
    }),
    { code: 'BMF_ERR_IO' },
  );
});

const fashionDir = new URL('../../../examples/fashion-mnist/', import.meta.url);
const fashionModel = new URL('model.onnx', fashionDir).pathname;
const fashionSpec = new URL('preprocess.json', fashionDir).pathname;
t.test(
  'examples/fashion-mnist compiles to a validated FP32 sim BMODEL',
  {
    skip:
      existsSync(fashionModel) && existsSync(fashionSpec)
        ? false
        : 'examples/fashion-mnist/model.onnx or preprocess.json is absent',
  },
  async (t) => {
    const modelPath = fashionModel;
    const specPath = fashionSpec;
    const dir = t.testdir({});
    const calibration = new URL('calibration/', fashionDir).pathname;
    const images = ['00153.png', '00157.png']
      .map((f) => join(calibration, f))
      .filter((p) => existsSync(p));
    const r = await compileModel({
      modelPath,
      chip: 'bm1684x',
      precision: 'fp32',
      preprocess: parsePreprocessSpec(JSON.parse(readFileSync(specPath, 'utf8'))),
      outDir: dir,
      ...(images.length ? { testInputs: images } : {}),
    });
    const model = loadOnnx(new Uint8Array(readFileSync(modelPath)));
    const stage = readBmodel(new Uint8Array(readFileSync(r.bmodelPath))).nets[0]?.stages[0];
    t.equal(stage?.inputs[0]?.name, graphInputs(model)[0]?.name);
    t.ok((r.report.validation?.outputs[0]?.cosine ?? 0) >= 0.99999);
    t.ok('perImageMs' in r.report.modeledLatency, 'cost model gave a modeled latency');
  },
);
