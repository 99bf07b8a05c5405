// FP16/BF16 activation stores on the sim target: each case's net, compiled by compileModel, runs
// from the written BMODEL's payload to exactly the outputs the chip's stores give (the fixture
// says why each value is what it is); FP32 BMODELs carry the model unchanged.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  compileModel,
  describeHalfEmulation,
  emulateHalfActivations,
  formatCompileReport,
} from '../../../controller/compile/index.js';
import {
  createOnnxSession,
  describeGraph,
  encodeOnnx,
  loadOnnx,
} from '../../../controller/onnx/index.js';
import { readBmodel, simulatorPayload } from '../../../shared/bmodel/index.js';
import { parsePreprocessSpec } from '../../../shared/preprocess/index.js';
import { makeTensor } from '../../../shared/tensor.js';
import { modelFromFixture, type ModelFixture } from '../onnx/fixture-model.js';

type Precision = 'fp32' | 'fp16' | 'bf16';
interface HalfCase {
  name: string;
  chip: string;
  model: Omit<ModelFixture, 'expected'>;
  input: number[];
  expected: Record<Precision, (number | string)[]>;
}
const { cases } = JSON.parse(
  readFileSync(
    new URL('../../fixtures/compile/half-activation-cases.json', import.meta.url),
    'utf8',
  ),
) as { cases: HalfCase[] };
const PRECISIONS: Precision[] = ['fp32', 'fp16', 'bf16'];
// The inputs are [1, 1, 1, 2]: a 1x2 grey image for the validation's random feeds.
const spec = parsePreprocessSpec({
  resize_dims: [1, 2],
  pixel_format: 'gray',
  mean: [128],
  scale: [0.0078125],
});

async function runPayload(payload: Uint8Array, input: readonly number[]): Promise<number[]> {
  // Full graph optimisation, as the agent's simulator sessions run (agent/runtime/session-pool.ts).
  const s = await createOnnxSession(payload, { graphOptimizationLevel: 'all' });
  try {
    const x = makeTensor('float32', [1, 1, 1, 2], Float32Array.from(input));
    const out = await s.run({ x });
    return Array.from(out['y']!.data as Float32Array);
  } finally {
    await s.release();
  }
}

for (const c of cases) {
  for (const precision of PRECISIONS) {
    t.test(`${c.name} at ${precision}`, async (t) => {
      const bytes = encodeOnnx(modelFromFixture(c.model as ModelFixture));
      const dir = t.testdir({});
      const modelPath = join(dir, `${c.model.name}.onnx`);
      writeFileSync(modelPath, bytes);
      const r = await compileModel({
        modelPath,
        chip: c.chip,
        precision,
        preprocess: spec,
        outDir: join(dir, 'out'),
      });
      const file = new Uint8Array(readFileSync(r.bmodelPath));
      const payload = simulatorPayload(file, readBmodel(file));
      // Exact: these values are chosen so that each format gives one representable answer.
      t.same(
        await runPayload(payload, c.input),
        c.expected[precision].map(Number),
        `${precision} outputs exactly as stored`,
      );
      const printed = formatCompileReport(r.report);
      if (precision === 'fp32') {
        t.ok(Buffer.from(payload).equals(Buffer.from(bytes)), 'fp32 payload is the model itself');
        t.notMatch(printed, /emulated/);
      } else {
        const f = precision.toUpperCase();
        const e = r.report.emulation;
        t.equal(e?.precision, precision, 'the report says what is emulated');
        // The three facts the report must state plainly, each on its own line.
        t.match(printed, new RegExp(`\\n  emulated {6}weights stored in ${f} \\(nearest even`));
        t.match(
          printed,
          new RegExp(
            `\\n  emulated {6}activations rounded to ${f} at layer boundaries, where the chip stores them: \\d+ layer output`,
          ),
        );
        t.match(
          printed,
          new RegExp(
            `\\n  not emulated  arithmetic inside a layer: FP32 on the host CPU, rounded to ${f} once`,
          ),
        );
        const keptF32 = c.name === 'avgpool-kept-fp32' && precision === 'fp16';
        t.equal(
          /layer\(s\) tpu-mlir lowers to F32 \(AveragePool\) keep FP32 outputs/.test(printed),
          keptF32,
          'F32 layers named exactly when the plan keeps some',
        );
        t.notMatch(printed, /weights of the F32 layers/, 'an AvgPool has no weights to round');
        const io = loadOnnx(payload).graph;
        t.same(
          [io.input?.map((i) => i.name), io.output?.map((o) => o.name)],
          [['x'], ['y']],
          'graph inputs and outputs keep their names',
        );
      }
    });
  }
}

t.test('the plan names what is rounded and what tpu-mlir keeps in FP32', async (t) => {
  const byName = new Map(cases.map((c) => [c.name, c]));
  const plan = async (name: string, precision: Precision, chip = 'bm1684x') => {
    const model = modelFromFixture(byName.get(name)!.model as ModelFixture);
    return emulateHalfActivations(model, await describeGraph(model), precision, chip as never).plan;
  };
  const roundOver = await plan('round-and-overflow', 'fp16');
  t.same(roundOver.roundedOutputs, ['a', 'b', 'd', 'y'], 'every arithmetic layer output');
  t.same(roundOver.roundedInputs, ['x'], 'the FP32 input is cast before the first layer');
  t.same(roundOver.float32Layers, []);
  const pool16 = await plan('avgpool-kept-fp32', 'fp16');
  t.same(
    pool16.float32Layers.map((l) => l.opType),
    ['AveragePool'],
    'AvgPool stays F32 at F16',
  );
  t.same(pool16.roundedInputs, [], 'an F32 layer reads its FP32 input as is');
  const pool16bf = await plan('avgpool-kept-fp32', 'bf16');
  t.same(pool16bf.float32Layers, [], 'AvgPool is stored in BF16');
  t.same((await plan('conv-bn-fused', 'fp16')).roundedOutputs, ['y'], 'no store inside conv+BN');
  t.same(
    (await plan('add-relu', 'bf16', 'bm1688')).roundedOutputs,
    ['y'],
    'rounded after the Relu, not before',
  );
  const fp32 = modelFromFixture(byName.get('round-and-overflow')!.model as ModelFixture);
  t.equal(
    emulateHalfActivations(fp32, await describeGraph(fp32), 'fp32', 'bm1684x').model,
    fp32,
    'fp32 is the identity',
  );
});

t.test('the report owns up to F32 layers whose weights are stored rounded', async (t) => {
  const e = describeHalfEmulation('bf16', {
    roundedOutputs: ['y'],
    roundedInputs: ['x'],
    roundedConstants: [],
    float32Layers: [
      { node: 'ln', opType: 'LayerNormalization', reason: 'F32 at BF16', readsWeights: true },
    ],
  });
  t.same(e.emulated, [
    'weights stored in BF16 (nearest even), widened to FP32 where a layer reads them',
    'activations rounded to BF16 at layer boundaries, where the chip stores them: 1 layer output(s), 1 FP32 value(s) read by BF16 layers (nearest even)',
    '1 layer(s) tpu-mlir lowers to F32 (LayerNormalization) keep FP32 outputs',
  ]);
  t.match(e.notEmulated.join('\n'), /weights of the F32 layers are stored rounded to BF16 too/);
});
