import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeOnnx } from '../../../controller/onnx/index.js';
import { modelFromFixture, readModelFixture } from '../onnx/fixture-model.js';
import { runCli, type CliRun } from '../../../harness/cli.js';

const cli = (argv: string[]): Promise<CliRun> => runCli(argv, { PATH: '/usr/bin:/bin' });

t.test('bmfleet compile, then bmfleet bmodel inspect on its output', async (t) => {
  const dir = t.testdir({
    'spec.json': JSON.stringify({
      resize_dims: [6, 6],
      pixel_format: 'gray',
      mean: [128],
      scale: [0.0078125],
    }),
  });
  const model = modelFromFixture(readModelFixture());
  writeFileSync(join(dir, 'crg.onnx'), encodeOnnx(model));
  const ok = await cli([
    'compile',
    '--model',
    join(dir, 'crg.onnx'),
    '--chip',
    'bm1684x',
    '--precision',
    'fp32',
    '--preprocess',
    join(dir, 'spec.json'),
    '--out',
    join(dir, 'out'),
  ]);
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /y\s+1\.0000000\s+1\.0000000\s+inf\s+PASS/);
  t.match(ok.out, /MODELED/);
  const inspect = await cli(['bmodel', 'inspect', join(dir, 'out', 'crg_bm1684x_fp32.bmodel')]);
  t.equal(inspect.code, 0, inspect.err);
  t.match(inspect.out, /BM1684X/);
  t.match(inspect.out, /\[crg\]/);

  const bad = {
    ...model,
    graph: {
      ...model.graph,
      node: model.graph.node?.map((n) => (n.opType === 'Relu' ? { ...n, opType: 'Swoosh' } : n)),
    },
  };
  writeFileSync(join(dir, 'bad.onnx'), encodeOnnx(bad));
  const refused = await cli([
    'compile',
    '--model',
    join(dir, 'bad.onnx'),
    '--chip',
    'bm1684x',
    '--preprocess',
    join(dir, 'spec.json'),
    '--out',
    join(dir, 'out2'),
  ]);
  t.equal(refused.code, 1);
  t.match(refused.err, /BMF_ERR_MODEL_UNSUPPORTED: .*Swoosh/);

  const usage = await cli(['compile', '--chip', 'bm1684x']);
  t.equal(usage.code, 2);
  t.match(usage.err, /--model is required/);
  const shapes = await cli([
    'compile',
    '--model',
    'm.onnx',
    '--chip',
    'bm1684x',
    '--preprocess',
    's.json',
    '--out',
    'o',
    '--input-shapes',
    '[1,2]',
  ]);
  t.equal(shapes.code, 2);
  t.match(shapes.err, /--input-shapes must be a list of shapes/);
});
