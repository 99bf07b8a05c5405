// `bmfleet golden record` on the libsophon emulator with the vendor RetinaFace BMODEL: it writes
// exactly the layout `bmfleet package --golden-reference` reads (REF/<image>/<output>.npy), the
// bytes are the emulator's documented function of the shared preprocessing's output (computed
// here independently), the packed bundle passes the agent's golden gate on the device, and a
// tampered .npy fails it. Bad input is a typed error and leaves REF as it was.
import t from 'tap';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createSystemClock } from '../../agent/clock.js';
import { createBmrtBackend } from '../../agent/runtime/bmrt/backend.js';
import { openLibsophon } from '../../agent/runtime/bmrt/libsophon.js';
import { loadSophonAddon } from '../../agent/runtime/bmrt/native.js';
import { runGate } from '../../agent/serve/gate.js';
import { parseGoldenFile } from '../../agent/serve/golden-file.js';
import { main } from '../../cli/main.js';
import type { GoldenRecording } from '../../cli/commands/golden.js';
import { decodeNpy, encodeNpy, npyToTensor } from '../../shared/npy.js';
import { parsePreprocessSpec, preprocessImage } from '../../shared/preprocess/index.js';
import { tensorBytes } from '../../shared/tensor.js';
import { tinyBmodel } from '../../harness/agent/models.js';
import { tempDir } from '../../harness/controller/test-controller.js';
import { FACE_PREPROCESS, writeFaceWorkspace } from '../../harness/vendor-bundle.js';
import { BINDING_PATH, EMULATOR_DIR, bindingSkip } from '../native/libsophon-fixtures.js';
import { expectedOutputs } from '../native/emulator-outputs.js';
import { VENDOR_SKIP_REASON, fixtureJson, vendorDir } from '../shared/bmodel/fixtures.js';

const vendor = vendorDir();
const skip = bindingSkip() || (vendor ? false : VENDOR_SKIP_REASON);
if (skip) console.log(`# golden record tests skipped: ${skip}`);
const FP32 = 'face_detection_fp32_b1.bmodel';
const INT8 = 'face_detection_int8_b4.bmodel';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main({ argv, stdout, stderr, env: { BMFLEET_LIBSOPHON_DIR: EMULATOR_DIR } });
  return { code, out, err };
}

const record = (work: string, bmodel: string, out: string, ...more: string[]) =>
  cli(
    ...['golden', 'record', '--bmodel', bmodel, '--preprocess', join(work, 'spec.json')],
    ...['--images', join(work, 'golden'), '--out', out, ...more],
  );

/** Packs the face BMODEL with `reference` and runs the bundle's golden gate on the emulator. */
async function packAndGate(work: string, bmodel: string, reference: string, out: string) {
  const packed = await cli(
    ...['package', '--bmodel', bmodel, '--preprocess', join(work, 'spec.json')],
    ...['--name', 'face', '--version', '1.0.0', '--sequence', '1', '--chip', 'bm1684'],
    ...['--precision', 'fp32', '--source-model', bmodel, '--toolchain', 'tpu-nntc'],
    ...['--golden', join(work, 'golden'), '--golden-reference', reference, '--out', out],
  );
  if (packed.code !== 0) throw new Error(packed.err);
  const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as {
    golden: { expectedAccuracy: number; expectedCosine: number };
    files: { role: string; sha256: string }[];
  };
  // Bundle files are stored by content: blobs/<sha256>.
  const goldenBlob = manifest.files.find((f) => f.role === 'golden')!.sha256;
  const golden = parseGoldenFile(new Uint8Array(await readFile(join(out, 'blobs', goldenBlob))));
  const backend = createBmrtBackend({
    device: openLibsophon({ dir: EMULATOR_DIR, addon: loadSophonAddon(BINDING_PATH) }),
    clock: createSystemClock(),
    timing: 'host',
  });
  try {
    const h = await backend.load(new Uint8Array(await readFile(bmodel)), { digest: 'gate' });
    return await runGate(backend, h, golden, {
      minAccuracy: manifest.golden.expectedAccuracy,
      minCosine: manifest.golden.expectedCosine,
    });
  } finally {
    await backend.close();
  }
}

t.test(
  'record on the emulator, package with it, the gate passes; tampered fails',
  { skip },
  async (t) => {
    const work = await tempDir('bmf-golden-');
    t.teardown(() => rm(work, { recursive: true, force: true }));
    const { images } = await writeFaceWorkspace(work);
    const bmodel = join(vendor!, FP32);
    const ref = join(work, 'ref');

    const r = await record(work, bmodel, ref, '--json');
    t.equal(r.code, 0, r.err);
    const rec = JSON.parse(r.out) as GoldenRecording;
    t.equal(rec.runtime, 'bmrt');
    t.equal(rec.net, 'mxnet-mdoel');
    const { files } = fixtureJson<{
      files: { file: string; nets: { outputs: { name: string; shape: number[] }[] }[] }[];
    }>('vendor-files.json');
    const outputs = files.find((f) => f.file === FP32)!.nets[0]!.outputs;
    t.same((await readdir(ref)).sort(), ['face-1', 'face-2', 'face-3'], 'one folder per image');

    // Every file: the output's dtype and shape, and the emulator's bytes for the preprocessed image.
    const spec = parsePreprocessSpec(FACE_PREPROCESS);
    for (const img of images) {
      const folder = join(ref, img.name.replace(/\.png$/, ''));
      t.same(
        (await readdir(folder)).sort(),
        outputs.map((o) => `${o.name}.npy`).sort(),
        `${img.name}: one .npy per output`,
      );
      const input = await preprocessImage(img.bytes, spec);
      const want = expectedOutputs(
        [{ bytes: tensorBytes(input), shape: input.shape }],
        outputs.map((o) => ({ dataType: 0, shape: o.shape })),
      );
      let same = 0;
      for (const [k, o] of outputs.entries()) {
        const got = npyToTensor(
          decodeNpy(new Uint8Array(await readFile(join(folder, `${o.name}.npy`)))),
        );
        t.equal(got.dtype, 'float32');
        t.same(got.shape, o.shape, `${img.name} ${o.name} shape`);
        if (Buffer.from(tensorBytes(got)).equals(Buffer.from(want[k]!))) same += 1;
      }
      t.equal(
        same,
        outputs.length,
        `${img.name}: every output is the emulator's bytes for this image`,
      );
    }

    const passed = await packAndGate(work, bmodel, ref, join(work, 'bundle-good'));
    t.equal(passed.passed, true, passed.reasons.join('; '));
    t.ok(Math.abs(passed.cosine! - 1) <= 1e-6, `cosine ${passed.cosine} is 1 (1e-6)`);

    // One output of one image negated: well-formed, so package takes it; the device refuses it.
    const tampered = join(work, 'ref-tampered');
    await cp(ref, tampered, { recursive: true });
    const file = join(tampered, 'face-2', `${outputs[0]!.name}.npy`);
    const t0 = npyToTensor(decodeNpy(new Uint8Array(await readFile(file))));
    const negated = Float32Array.from(t0.data as Float32Array, (x) => -x);
    await writeFile(file, encodeNpy({ dtype: 'float32', shape: t0.shape, data: negated }));
    const failed = await packAndGate(work, bmodel, tampered, join(work, 'bundle-tampered'));
    t.equal(failed.passed, false, 'a tampered recording fails the gate');
    t.match(failed.reasons.join('; '), /output cosine 0\.\d+ below 0\.999/);
  },
);

t.test('bad input is a typed error and REF is left as it was', { skip }, async (t) => {
  const work = await tempDir('bmf-golden-bad-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  await writeFaceWorkspace(work, [1, 2]);
  const bmodel = join(vendor!, FP32);

  const usage = await cli('golden', 'record', '--bmodel', bmodel);
  t.equal(usage.code, 2);
  t.match(usage.err, /BMF_ERR_USAGE.*golden record --bmodel FILE --preprocess/);

  // An existing, non-empty REF is never overwritten.
  const kept = join(work, 'kept');
  await mkdir(join(kept, 'face-1'), { recursive: true });
  await writeFile(join(kept, 'face-1', 'note.txt'), 'recorded earlier');
  const busy = await record(work, bmodel, kept);
  t.equal(busy.code, 2);
  t.match(busy.err, /BMF_ERR_USAGE.*exists and is not empty/);
  t.same(await readdir(kept), ['face-1']);
  t.equal(await readFile(join(kept, 'face-1', 'note.txt'), 'utf8'), 'recorded earlier');

  // The INT8 BMODEL takes int8 [4,3,320,320]; a float spec's tensor fits no stage: nothing written.
  const int8 = await record(work, join(vendor!, INT8), join(work, 'ref-int8'));
  t.equal(int8.code, 1);
  t.match(int8.err, /BMF_ERR_TENSOR_SHAPE: .*input data expects int8, got float32/);
  t.same(
    (await readdir(work)).filter((f) => f.includes('ref-int8')),
    [],
    'no REF and no staging folder left',
  );

  // A simulator BMODEL on bmrt names the runtime it needs.
  await writeFile(join(work, 'tiny.bmodel'), tinyBmodel('tiny-a'));
  const sim = await record(work, join(work, 'tiny.bmodel'), join(work, 'ref-sim'));
  t.equal(sim.code, 1);
  t.match(sim.err, /BMF_ERR_RUNTIME_SIM_ONLY/);

  // Two images that would share one folder (class folders 0/ and 1/ both holding a.png).
  const classes = join(work, 'classes');
  for (const c of ['0', '1']) {
    await mkdir(join(classes, c), { recursive: true });
    await cp(join(work, 'golden', 'face-1.png'), join(classes, c, 'a.png'));
  }
  const clash = await cli(
    ...['golden', 'record', '--bmodel', bmodel, '--preprocess', join(work, 'spec.json')],
    ...['--images', classes, '--out', join(work, 'ref-clash')],
  );
  t.equal(clash.code, 1);
  t.match(clash.err, /BMF_ERR_EVAL_DATA: .*would share the reference folder "a"/);

  await writeFile(join(work, 'bad-spec.json'), '{"resize_dims": [320');
  const spec = await cli(
    ...['golden', 'record', '--bmodel', bmodel, '--preprocess', join(work, 'bad-spec.json')],
    ...['--images', join(work, 'golden'), '--out', join(work, 'ref-spec')],
  );
  t.equal(spec.code, 1);
  t.match(spec.err, /BMF_ERR_PREPROCESS_SPEC/);
});
