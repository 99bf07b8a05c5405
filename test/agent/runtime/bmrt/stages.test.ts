// Several nets and several stages on the libsophon emulator (the vendor BMODELs hold one net with
// one stage each): a BMODEL written with two nets, the first compiled for batch 1 and batch 4 (one
// stage per batch, as a static BMODEL holds them). The binding describes every net and stage and
// runs the stage whose input shapes match; the bmrt backend picks that stage from the feeds and
// returns that stage's output shapes; `bmrt-test --json` lists every net and stage; bytes are
// checked against the emulator's documented output function.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createSystemClock } from '../../../../agent/clock.js';
import { createBmrtBackend } from '../../../../agent/runtime/bmrt/backend.js';
import { openLibsophon } from '../../../../agent/runtime/bmrt/libsophon.js';
import { loadSophonAddon } from '../../../../agent/runtime/bmrt/native.js';
import type { BmrtTestReport } from '../../../../cli/commands/bmrt-test.js';
import { main } from '../../../../cli/main.js';
import { writeBmodel } from '../../../../shared/bmodel/write.js';
import type { BmodelNetSpec } from '../../../../shared/bmodel/write.js';
import { tensorBytes } from '../../../../shared/tensor.js';
import { expectedOutputs } from '../../../native/emulator-outputs.js';
import { BINDING_PATH, EMULATOR_DIR, bindingSkip } from '../../../native/libsophon-fixtures.js';
import { seededBytes } from '../../../../shared/stats/seeded-random.js';

const skip = bindingSkip();
const addon = skip ? undefined : loadSophonAddon(BINDING_PATH);
const open = () => openLibsophon({ dir: EMULATOR_DIR, addon: addon! });

const stage = (batch: number) => ({
  inputs: [{ name: 'image', dtype: 'FP32' as const, shape: [batch, 3, 8, 8] }],
  outputs: [
    { name: 'logits', dtype: 'FP32' as const, shape: [batch, 10] },
    { name: 'feature', dtype: 'FP32' as const, shape: [batch, 4, 2, 2] },
  ],
  ctxSize: 1 << 14,
});
const NETS: BmodelNetSpec[] = [
  { name: 'classifier', stages: [stage(1), stage(4)] },
  {
    name: 'embedder',
    stages: [
      {
        inputs: [{ name: 'x', dtype: 'FP32', shape: [1, 16] }],
        outputs: [{ name: 'y', dtype: 'FP32', shape: [1, 8] }],
        ctxSize: 1 << 12,
      },
    ],
  },
];
const bmodel = (nets: BmodelNetSpec[]) =>
  writeBmodel({ chip: 'BM1684X', nets, binary: new Uint8Array(8192).fill(7) });

t.test(
  'the binding describes every net and stage and runs the matching stage',
  { skip },
  async (t) => {
    const dev = open();
    t.teardown(() => dev.close());
    const model = await dev.load(bmodel(NETS));
    t.same(
      model.nets.map((n) => [n.name, n.stages.map((s) => [s.inputShapes, s.outputShapes])]),
      [
        [
          'classifier',
          [
            [
              [[1, 3, 8, 8]],
              [
                [1, 10],
                [1, 4, 2, 2],
              ],
            ],
            [
              [[4, 3, 8, 8]],
              [
                [4, 10],
                [4, 4, 2, 2],
              ],
            ],
          ],
        ],
        ['embedder', [[[[1, 16]], [[1, 8]]]]],
      ],
    );
    for (const [net, shape, outShapes] of [
      [
        'classifier',
        [1, 3, 8, 8],
        [
          [1, 10],
          [1, 4, 2, 2],
        ],
      ],
      [
        'classifier',
        [4, 3, 8, 8],
        [
          [4, 10],
          [4, 4, 2, 2],
        ],
      ],
      ['embedder', [1, 16], [[1, 8]]],
    ] as const) {
      const bytes = seededBytes(
        shape.reduce((a: number, b: number) => a * b, 4),
        shape[0],
      );
      const outs = await model.infer(net, [{ bytes, shape }]);
      t.same(
        outs.map((o) => o.shape),
        outShapes,
        `${net} [${shape.join(',')}]: that stage's outputs`,
      );
      const want = expectedOutputs(
        [{ bytes, shape }],
        outShapes.map((s) => ({ dataType: 0, shape: s })),
      );
      t.ok(
        outs.every((o, k) => Buffer.from(o.data).equals(Buffer.from(want[k]!))),
        `${net} [${shape.join(',')}]: the emulator's bytes`,
      );
    }
    await t.rejects(
      model.infer('classifier', [{ bytes: new Uint8Array(2 * 192 * 4), shape: [2, 3, 8, 8] }]),
      {
        code: 'BMF_ERR_LIBSOPHON_MODEL',
      },
    );
    model.unload();
  },
);

t.test('the backend picks the stage from the feeds', { skip }, async (t) => {
  const backend = createBmrtBackend({ device: open(), clock: createSystemClock(), timing: 'host' });
  t.teardown(() => backend.close());
  const h = await backend.load(bmodel([NETS[0]!]), { digest: 'stages' });
  t.same(
    backend.describe(h).outputs.map((o) => o.shape),
    [
      [1, 10],
      [1, 4, 2, 2],
    ],
    'described by its first stage',
  );
  for (const batch of [1, 4]) {
    const data = Float32Array.from({ length: batch * 192 }, (_, i) => (i % 17) / 17);
    const image = { dtype: 'float32' as const, shape: [batch, 3, 8, 8], data };
    const r = await backend.infer(h, { image });
    t.same(
      Object.values(r.outputs).map((o) => o.shape),
      [
        [batch, 10],
        [batch, 4, 2, 2],
      ],
      `batch ${batch}: stage ${batch === 1 ? 0 : 1}'s shapes`,
    );
    const want = expectedOutputs(
      [{ bytes: tensorBytes(image), shape: image.shape }],
      [
        { dataType: 0, shape: [batch, 10] },
        { dataType: 0, shape: [batch, 4, 2, 2] },
      ],
    );
    t.same(
      Array.from(r.outputs.logits!.data as Float32Array),
      Array.from(new Float32Array(want[0]!.slice().buffer)),
      `batch ${batch}: logits are the emulator's values`,
    );
  }
  await t.rejects(
    backend.infer(h, {
      image: { dtype: 'float32', shape: [2, 3, 8, 8], data: new Float32Array(384) },
    }),
    { code: 'BMF_ERR_TENSOR_SHAPE', message: /no stage for image\[2,3,8,8\]/ },
  );
  await t.rejects(backend.load(bmodel(NETS), { digest: 'two-nets' }), {
    code: 'BMF_ERR_BMODEL_UNSUPPORTED',
    message: /2 nets/,
  });
});

t.test('bmrt-test --json lists every net and stage', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bmf-stages-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'two.bmodel'), bmodel(NETS));
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await main({
    argv: ['bmrt-test', '--bmodel', join(dir, 'two.bmodel'), '--json', '--loops', '2'],
    stdout,
    stderr: new PassThrough(),
    env: { BMFLEET_LIBSOPHON_DIR: EMULATOR_DIR },
  });
  t.equal(code, 0);
  const report = JSON.parse(out) as BmrtTestReport;
  t.same(
    report.nets.map((n) => [
      n.name,
      n.stages.map((s) => [s.stage, s.inputs.map((i) => i.shape), s.outputs.map((o) => o.shape)]),
    ]),
    [
      [
        'classifier',
        [
          [
            0,
            [[1, 3, 8, 8]],
            [
              [1, 10],
              [1, 4, 2, 2],
            ],
          ],
          [
            1,
            [[4, 3, 8, 8]],
            [
              [4, 10],
              [4, 4, 2, 2],
            ],
          ],
        ],
      ],
      ['embedder', [[0, [[1, 16]], [[1, 8]]]]],
    ],
  );
  t.ok(
    report.nets.every((n) => n.stages.every((s) => s.calculateMs.length === 2)),
    'two loops timed for every stage',
  );
});
