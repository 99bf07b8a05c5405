// writeBmodel output reads back identically: a synthetic spec, simulator BMODELs, and the real
// vendor files rewritten from what the reader found in them.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SIMULATOR_MODULE_NAME,
  isSimulatorBmodel,
  readBmodel,
  simulatorPayload,
  writeBmodel,
} from '../../../shared/bmodel/index.js';
import type { Bmodel } from '../../../shared/bmodel/index.js';
import { isBmfError } from '../../../shared/errors.js';
import { VENDOR_SKIP_REASON, syntheticSpec, vendorDir } from './fixtures.js';

function withoutHeader(b: Bmodel): Omit<Bmodel, 'header'> {
  const { header: _header, ...rest } = b;
  return rest;
}

t.test('synthetic spec: fields survive the round trip', async (t) => {
  const spec = syntheticSpec();
  const bytes = writeBmodel(spec);
  const b = readBmodel(bytes);
  t.equal(b.header.headerSize, 64);
  t.equal(b.header.binarySize, spec.binary!.length);
  t.equal(bytes.length, 64 + b.header.flatbuffersSize + b.header.binarySize);
  t.match(b, { type: 'B', version: '2.2', chip: 'BM1684X', time: spec.time, neuronSize: 65536 });
  t.same(b.kernelModule, spec.kernelModule);
  const [cls, tiny] = b.nets;
  t.equal(cls!.stages.length, 2);
  const input = cls!.stages[0]!.inputs[0]!;
  t.match(input, { name: 'images', dtype: 'INT8', dataType: 2, storeMode: '4N', gmemStmode: 2 });
  t.same(input.shape, [4, 3, 224, 224]);
  t.equal(input.scale, 0.0078125);
  t.equal(input.zeroPoint, -3);
  t.equal(input.size, 4 * 3 * 224 * 224, 'size defaults to elements x dtype bytes');
  t.equal(cls!.stages[0]!.outputs[1]!.size, 4 * 512 * 2);
  t.equal(cls!.stages[0]!.outputs[0]!.scale, 1, 'scale defaults to 1');
  t.same(cls!.stages[0]!.coeffMem, spec.nets[0]!.stages[0]!.coeffMem);
  t.same(cls!.stages[0]!.cmdGroups, spec.nets[0]!.stages[0]!.cmdGroups);
  t.equal(tiny!.addrMode, 1);
  t.match(tiny!.stages[0]!, {
    isDynamic: true,
    nDynamic: true,
    binaryIr: { start: 2816, size: 128 },
  });
  t.match(tiny!.stages[0]!.outputs[0]!, { dtype: 'UINT4', zeroPoint: 7, size: 2 });
  // Deterministic: the same spec gives the same bytes; writing what was read reads back the same.
  t.same(writeBmodel(spec), bytes);
  const region = bytes.subarray(64 + b.header.flatbuffersSize);
  t.same(withoutHeader(readBmodel(writeBmodel({ ...b, binary: region }))), withoutHeader(b));
});

t.test('simulator BMODEL carries its payload and is marked', async (t) => {
  const payload = new TextEncoder().encode('onnx-bytes-stand-in');
  const { kernelModule: _km, ...spec } = syntheticSpec();
  const bytes = writeBmodel({ ...spec, chip: 'BM1688', simulator: { payload } });
  const b = readBmodel(bytes);
  t.ok(isSimulatorBmodel(b));
  t.equal(b.kernelModule?.fileName, SIMULATOR_MODULE_NAME);
  t.equal(b.chip, 'BM1688', 'chip stays a real chip name');
  t.same(simulatorPayload(bytes, b), payload);
  t.notOk(isSimulatorBmodel(readBmodel(writeBmodel(syntheticSpec()))));
  t.throws(() => simulatorPayload(bytes, readBmodel(writeBmodel(syntheticSpec()))), {
    code: 'BMF_ERR_BMODEL_UNSUPPORTED',
  });
});

const invalidSpecs: [string, (s: ReturnType<typeof syntheticSpec>) => unknown][] = [
  ['no nets', (s) => ({ ...s, nets: [] })],
  ['empty chip', (s) => ({ ...s, chip: '' })],
  [
    'range outside binary',
    (s) => ({ ...s, kernelModule: { fileName: 'k', binary: { start: 4000, size: 200 } } }),
  ],
  ['simulator plus kernel module', (s) => ({ ...s, simulator: { payload: new Uint8Array(1) } })],
  [
    'unknown dtype',
    (s) => ({
      ...s,
      nets: [
        {
          name: 'n',
          stages: [{ inputs: [{ name: 'x', dtype: 'FP64', shape: [1] }], outputs: [] }],
        },
      ],
    }),
  ],
  [
    'negative dim',
    (s) => ({
      ...s,
      nets: [
        {
          name: 'n',
          stages: [{ inputs: [{ name: 'x', dtype: 'FP32', shape: [-1] }], outputs: [] }],
        },
      ],
    }),
  ],
];
for (const [name, make] of invalidSpecs) {
  t.test(`writer refuses: ${name}`, async (t) => {
    try {
      writeBmodel(make(syntheticSpec()) as Parameters<typeof writeBmodel>[0]);
      t.fail('accepted');
    } catch (e) {
      t.ok(isBmfError(e, 'BMF_ERR_BMODEL_INVALID'), String(e));
    }
  });
}

const dir = vendorDir();
t.test(
  'vendor files rewritten from what was read read back identically',
  { skip: dir ? false : VENDOR_SKIP_REASON },
  async (t) => {
    if (!dir) return;
    for (const file of ['face_detection_fp32_b1.bmodel', 'face_detection_int8_b4.bmodel']) {
      const bytes = readFileSync(join(dir, file));
      const b = readBmodel(bytes);
      const region = bytes.subarray(
        64 + b.header.flatbuffersSize,
        64 + b.header.flatbuffersSize + b.header.binarySize,
      );
      const again = readBmodel(writeBmodel({ ...b, binary: region }));
      t.same(withoutHeader(again), withoutHeader(b), file);
      t.equal(again.header.binarySize, b.header.binarySize);
    }
  },
);
