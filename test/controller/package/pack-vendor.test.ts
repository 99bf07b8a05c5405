// `bmfleet package` takes a vendor BMODEL (tpu-nntc, no simulator payload): the bundle says
// runtime bmrt, so only an agent on libsophon installs it (the simulator refuses it at load).
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packBundle, sha256File } from '../../../controller/package/pack.js';
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
      preprocess: { resize_dims: [320, 320], pixel_format: 'bgr' },
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
