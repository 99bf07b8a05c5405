// `bmfleet package` takes a vendor BMODEL (tpu-nntc, no simulator payload): the bundle says
// runtime bmrt, so only an agent on libsophon installs it (the simulator refuses it at load).
// Its golden set carries reference outputs recorded on a board (golden-reference.ts layout).
import t from 'tap';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { parseGoldenFile } from '../../../agent/serve/golden-file.js';
import { packBundle, sha256File } from '../../../controller/package/pack.js';
import { readBmodel } from '../../../shared/bmodel/index.js';
import { encodeNpy } from '../../../shared/npy.js';
import { parseAuthoredPreprocessSpec } from '../../../shared/preprocess/index.js';
import { makeTensor, shapeSize } from '../../../shared/tensor.js';
import { VENDOR_SKIP_REASON, vendorDir } from '../../shared/bmodel/fixtures.js';

const dir = vendorDir();

t.test(
  'a vendor BMODEL packs as a bmrt bundle',
  { skip: dir ? false : VENDOR_SKIP_REASON },
  async (t) => {
    const out = await mkdtemp(join(tmpdir(), 'bmf-pack-vendor-'));
    t.teardown(() => rm(out, { recursive: true, force: true }));
    const bmodelPath = join(dir!, 'face_detection_int8_b4.bmodel');
    const digest = await sha256File(bmodelPath);
    const manifest = await packBundle({
      bmodelPath,
      name: 'face',
      version: '1.0.0',
      sequence: 1,
      chips: ['bm1684'],
      precision: 'int8',
      preprocess: parseAuthoredPreprocessSpec({ resize_dims: [320, 320], pixel_format: 'bgr' }),
      provenance: { sourceModelSha256: digest, toolchain: 'tpu-nntc', toolchainVersion: '2.2' },
      outDir: out,
      now: new Date('2026-12-01T00:00:00Z'),
    });
    t.equal(manifest.runtime, 'bmrt');
    t.same(manifest.chips, ['bm1684']);
    t.same(
      manifest.inputs.map((i) => i.name),
      ['data'],
    );
    t.match(manifest.metadata, { net: 'mxnet-mdoel_bmnetc', bmodelChip: 'BM1684' });
    t.same(
      manifest.files.map((f) => [f.role, f.sha256]),
      [['bmodel', digest]],
    );
  },
);

t.test(
  'a vendor BMODEL with reference outputs recorded on a board: the device gates on them',
  { skip: dir ? false : VENDOR_SKIP_REASON },
  async (t) => {
    const work = await mkdtemp(join(tmpdir(), 'bmf-pack-vendor-ref-'));
    t.teardown(() => rm(work, { recursive: true, force: true }));
    const bmodelPath = join(dir!, 'face_detection_fp32_b1.bmodel');
    const outputs = readBmodel(await readFile(bmodelPath)).nets[0]!.stages[0]!.outputs;
    const image = join(work, 'face-1.png');
    await writeFile(
      image,
      await sharp({
        create: { width: 32, height: 32, channels: 3, background: { r: 9, g: 99, b: 199 } },
      })
        .png()
        .toBuffer(),
    );
    const ref = join(work, 'ref');
    await mkdir(join(ref, 'face-1'), { recursive: true });
    const recorded = outputs.map((o, k) =>
      makeTensor(
        'float32',
        o.shape,
        Float32Array.from({ length: shapeSize(o.shape) }, (_, i) => (i % 7) - k),
      ),
    );
    for (const [k, o] of outputs.entries()) {
      await writeFile(join(ref, 'face-1', `${o.name}.npy`), encodeNpy(recorded[k]!));
    }
    const pack = (over: Partial<Parameters<typeof packBundle>[0]>) =>
      packBundle({
        bmodelPath,
        name: 'face',
        version: '1.0.0',
        sequence: 1,
        chips: ['bm1684'],
        precision: 'fp32',
        preprocess: parseAuthoredPreprocessSpec({ resize_dims: [320, 320], pixel_format: 'bgr' }),
        provenance: {
          sourceModelSha256: '0'.repeat(64),
          toolchain: 'tpu-nntc',
          toolchainVersion: '2.2',
        },
        golden: [{ path: image }],
        goldenReferenceDir: ref,
        outDir: join(work, `out-${Math.random().toString(36).slice(2)}`),
        now: new Date('2026-12-01T00:00:00Z'),
        ...over,
      });
    const manifest = await pack({ goldenMinCosine: 0.99, outDir: join(work, 'out') });
    t.same(manifest.golden, { expectedAccuracy: 0, expectedCosine: 0.99, count: 1 });
    const goldenFile = manifest.files.find((f) => f.role === 'golden')!;
    const golden = parseGoldenFile(await readFile(join(work, 'out', 'blobs', goldenFile.sha256)));
    t.same(
      Object.keys(golden.referenceOutputs![0]!),
      outputs.map((o) => o.name),
      'one reference per output',
    );
    t.same(
      [...(golden.referenceOutputs![0]![outputs[1]!.name]!.data as Float32Array).slice(0, 8)],
      [...(recorded[1]!.data as Float32Array).slice(0, 8)],
      'the recorded values, as recorded',
    );
    t.same(golden.inputs[0]!.data!.shape, [1, 3, 320, 320], 'the input the device will see');

    await rm(join(ref, 'face-1', `${outputs[4]!.name}.npy`));
    await t.rejects(pack({}), {
      code: 'BMF_ERR_USAGE',
      message: new RegExp(`${outputs[4]!.name}\\.npy for golden image .*face-1\\.png: ENOENT`),
    });
    await writeFile(
      join(ref, 'face-1', `${outputs[4]!.name}.npy`),
      encodeNpy(makeTensor('float32', [1, 2], new Float32Array(2))),
    );
    await t.rejects(pack({}), {
      code: 'BMF_ERR_TENSOR_MISMATCH',
      message: /is float32\[1,2\], output face_rpn_bbox_pred_stride16 is float32\[1,8,20,20\]/,
    });
    await t.rejects(pack({ golden: [] }), {
      code: 'BMF_ERR_USAGE',
      message: /reference outputs need the golden images/,
    });
  },
);
