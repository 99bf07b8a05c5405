// Packaging checks a declared output decoder against the BMODEL's real outputs: the vendor's
// RetinaFace BMODELs (per-stride anchor outputs) pack with the retinaface decoder, and every
// mismatch is a typed error raised before anything is written.
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packBundle } from '../../../controller/package/pack.js';
import { parseAuthoredPreprocessSpec } from '../../../shared/preprocess/index.js';
import { manifestDecoder, parseBundleManifest } from '../../../shared/bundle/manifest.js';
import { VENDOR_SKIP_REASON, vendorDir } from '../../shared/bmodel/fixtures.js';

const dir = vendorDir();
const provenance = {
  sourceModelSha256: '0'.repeat(64),
  toolchain: 'bmnetc',
  toolchainVersion: '2.2',
};
const preprocess = { resize_dims: [320, 320], pixel_format: 'bgr' };

async function pack(t: Test, file: string, decoder: unknown, pre: unknown = preprocess) {
  const work = await mkdtemp(join(tmpdir(), 'bmf-pack-decoder-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const outDir = join(work, 'bundle');
  const run = packBundle({
    bmodelPath: join(dir as string, file),
    name: 'face-detection',
    version: '1.0.0',
    sequence: 1,
    chips: ['bm1684'],
    precision: file.includes('int8') ? 'int8' : 'fp32',
    preprocess: parseAuthoredPreprocessSpec(pre),
    decoder,
    provenance,
    outDir,
    now: new Date('2026-01-01T00:00:00Z'),
  });
  return { run, outDir };
}

const skip = dir ? false : VENDOR_SKIP_REASON;
const files = ['face_detection_fp32_b1.bmodel', 'face_detection_int8_b4.bmodel'];

t.test(
  'vendor RetinaFace BMODELs pack with the retinaface anchors decoder',
  { skip },
  async (t) => {
    for (const file of files) {
      const decoder = { kind: 'retinaface', layout: 'anchors', score_threshold: 0.8 };
      const { run, outDir } = await pack(t, file, decoder);
      const manifest = await run;
      t.equal(manifest.runtime, 'bmrt', file);
      t.same(manifest.outputs.decoder, decoder, `${file}: decoder carried as given`);
      const read = parseBundleManifest(await readFile(join(outDir, 'manifest.json')));
      t.match(manifestDecoder(read), { kind: 'retinaface', layout: 'anchors', iou_threshold: 0.4 });
    }
  },
);

const mismatches: [string, unknown, unknown][] = [
  ['a yolov5 decoder', { kind: 'yolov5', outputs: ['output0'], num_classes: 80 }, preprocess],
  [
    'three anchors per cell where the model has two',
    {
      kind: 'retinaface',
      layout: 'anchors',
      heads: [32, 16, 8].map((s) => ({
        stride: s,
        cls: `face_rpn_cls_prob_reshape_stride${s}`,
        bbox: `face_rpn_bbox_pred_stride${s}`,
        scales: [4, 2, 1],
      })),
    },
    preprocess,
  ],
  [
    'an input size the grids do not fit',
    { kind: 'retinaface', layout: 'anchors' },
    { resize_dims: [640, 640] },
  ],
  [
    'the flattened-priors layout',
    { kind: 'retinaface', layout: 'priors', outputs: { loc: 'loc', conf: 'conf' } },
    preprocess,
  ],
];

for (const [name, decoder, pre] of mismatches) {
  t.test(`refused: ${name}`, { skip }, async (t) => {
    const { run, outDir } = await pack(t, 'face_detection_fp32_b1.bmodel', decoder, pre);
    await t.rejects(run, { code: 'BMF_ERR_DECODER_OUTPUTS' });
    t.notOk(existsSync(outDir), 'nothing written');
  });
}

t.test('a malformed decoder is a spec error', { skip }, async (t) => {
  const { run } = await pack(t, 'face_detection_fp32_b1.bmodel', { kind: 'retinaface' });
  await t.rejects(run, { code: 'BMF_ERR_DECODER_SPEC', details: { field: 'layout' } });
});
