// Simulator BMODELs report the coefficient memory the vendor compiler would lay out for the same
// net (controller/compile/coeff-memory.ts): each weight at its stored dtype, aligned to 4096
// bytes. Checked against values worked out by hand (test/fixtures/compile/coeff-cases.json),
// through the file `bmfleet bmodel inspect` reads.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../../cli/main.js';
import { coefficientBytes, weightBytes } from '../../../controller/compile/coeff-memory.js';
import { compileModel } from '../../../controller/compile/index.js';
import {
  encodeOnnx,
  float32Tensor,
  int32Tensor,
  int8Tensor,
  makeModel,
  makeNode,
  ONNX_DTYPE,
  valueInfo,
} from '../../../controller/onnx/index.js';
import { readBmodel } from '../../../shared/bmodel/index.js';
import { modelToolMem } from '../../../shared/bmodel/model-tool.js';
import { parsePreprocessSpec } from '../../../shared/preprocess/index.js';

const table = JSON.parse(
  readFileSync(new URL('../../fixtures/compile/coeff-cases.json', import.meta.url), 'utf8'),
) as {
  net: { in: number; out: number };
  cases: { precision: string; chip: string; expected: number }[];
};

function gemmNet(nIn: number, nOut: number): Uint8Array {
  return encodeOnnx(
    makeModel({
      name: 'fc',
      inputs: [valueInfo('x', ONNX_DTYPE.FLOAT, [1, nIn])],
      outputs: [valueInfo('y', ONNX_DTYPE.FLOAT, [1, nOut])],
      nodes: [makeNode('Gemm', ['x', 'w', 'b'], ['y'], { transB: 1 })],
      initializers: [
        float32Tensor(
          'w',
          [nOut, nIn],
          Float32Array.from({ length: nOut * nIn }, (_, i) => ((i % 13) - 6) / 10),
        ),
        float32Tensor(
          'b',
          [nOut],
          Float32Array.from({ length: nOut }, (_, i) => i / 100),
        ),
      ],
    }),
  );
}

async function inspect(file: string): Promise<string> {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(c, _e, cb) {
      chunks.push(Buffer.from(c));
      cb();
    },
  });
  const exit = await main({ argv: ['bmodel', 'inspect', file], stdout: out, stderr: out, env: {} });
  if (exit !== 0) throw new Error(`inspect exited ${exit}`);
  return Buffer.concat(chunks).toString('utf8');
}

for (const c of table.cases) {
  t.test(`${c.precision} on ${c.chip}: ${c.expected} coefficient bytes`, async (t) => {
    const dir = t.testdir({});
    const modelPath = join(dir, 'fc.onnx');
    writeFileSync(modelPath, gemmNet(table.net.in, table.net.out));
    const r = await compileModel({
      modelPath,
      chip: c.chip,
      precision: c.precision,
      preprocess: parsePreprocessSpec({ resize_dims: [10, 10], pixel_format: 'gray' }),
      inputShapes: [[1, table.net.in]],
      outDir: join(dir, 'out'),
    });
    const bmodel = readBmodel(new Uint8Array(readFileSync(r.bmodelPath)));
    t.equal(bmodel.nets[0]!.stages[0]!.coeffMem?.binaryCoeff.size, c.expected);
    t.equal(modelToolMem(bmodel, 'new').weight, c.expected, "the vendor's memory formula");
    t.match(await inspect(r.bmodelPath), new RegExp(`\\(weight: ${c.expected}, `));
  });
}

t.test('what counts as a weight', async (t) => {
  t.equal(weightBytes(float32Tensor('s', [1], new Float32Array(1))), 0, 'a scalar is an attribute');
  t.equal(weightBytes(int8Tensor('w', [3, 5], new Int8Array(15))), 15);
  t.equal(weightBytes(int32Tensor('b', [3], new Int32Array(3))), 12);
  // An INT8 layer in QDQ form: INT8 weight, float per-channel scale, INT32 bias; the zero points
  // and scalar activation scales are not stored as weights by the vendor.
  const model = makeModel({
    name: 'q',
    inputs: [valueInfo('x', ONNX_DTYPE.FLOAT, [1, 3])],
    outputs: [valueInfo('y', ONNX_DTYPE.FLOAT, [1, 3])],
    nodes: [
      makeNode('DequantizeLinear', ['w_int8', 'w_scale', 'w_zp'], ['w_dq'], { axis: 0 }),
      makeNode('DequantizeLinear', ['b_int32', 'b_scale', 'b_zp'], ['b_dq'], { axis: 0 }),
      makeNode('Gemm', ['x', 'w_dq', 'b_dq'], ['y'], { transB: 1 }),
    ],
    initializers: [
      int8Tensor('w_int8', [3, 3], new Int8Array(9)),
      float32Tensor('w_scale', [3], new Float32Array(3)),
      int8Tensor('w_zp', [3], new Int8Array(3)),
      int32Tensor('b_int32', [3], new Int32Array(3)),
      float32Tensor('b_scale', [3], new Float32Array(3)),
      int32Tensor('b_zp', [3], new Int32Array(3)),
      float32Tensor('unused', [100], new Float32Array(100)),
    ],
  });
  t.equal(coefficientBytes(model), 4 * 4096, 'weight, its scale, bias, its scale; no zero points');
});
