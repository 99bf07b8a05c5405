// A RetinaFace bundle made from a vendor BMODEL decodes on the bmrt path: the vendor's
// face_detection BMODELs (per-stride anchor outputs) run on the libsophon emulator and the
// agent's decodeBoxes turns their outputs into boxes. The emulator's outputs are synthetic
// (docs/libsophon.md), so this checks shapes and the decode's arithmetic, not faces: every score
// is a face probability of the cls outputs above the threshold (dequantised with the BMODEL's
// scale and zero point when INT8), the best one leads, and its box is the insightface anchor transform
// (RetinaFace/retinaface.py bbox_pred) of that anchor's deltas, clipped to the image.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSystemClock } from '../../../../agent/clock.js';
import { createBmrtBackend } from '../../../../agent/runtime/bmrt/backend.js';
import { openLibsophon } from '../../../../agent/runtime/bmrt/libsophon.js';
import { loadSophonAddon } from '../../../../agent/runtime/bmrt/native.js';
import { decodeBoxes } from '../../../../agent/serve/postprocess.js';
import { checkDecoderFits, isDetector, parseDecoderSpec } from '../../../../shared/detect/index.js';
import { makeTensor } from '../../../../shared/tensor.js';
import { BINDING_PATH, EMULATOR_DIR, bindingSkip } from '../../../native/libsophon-fixtures.js';
import { VENDOR_SKIP_REASON, vendorDir } from '../../../shared/bmodel/fixtures.js';
import { sha256 } from '../../../../harness/agent/models.js';
import { parsePreprocessSpec } from '../../../../shared/preprocess/index.js';
import { anchorCandidates } from '../../../helpers/retinaface-anchors.js';
import { seededBytes } from '../../../../shared/stats/seeded-random.js';

const dir = vendorDir();
const skip = bindingSkip() || (dir ? false : VENDOR_SKIP_REASON);
const preprocess = parsePreprocessSpec({ resize_dims: [320, 320], pixel_format: 'bgr' });
const SIZE = 320;

const CASES = [
  { file: 'face_detection_fp32_b1.bmodel', dtype: 'float32', shape: [1, 3, 320, 320] },
  { file: 'face_detection_int8_b4.bmodel', dtype: 'int8', shape: [4, 3, 320, 320] },
] as const;

for (const c of CASES) {
  t.test(`${c.file}: retinaface anchors decode on bmrt`, { skip }, async (t) => {
    const backend = createBmrtBackend({
      device: openLibsophon({ dir: EMULATOR_DIR, addon: loadSophonAddon(BINDING_PATH) }),
      clock: createSystemClock(),
      timing: 'host',
    });
    t.teardown(() => backend.close());
    const bytes = new Uint8Array(readFileSync(join(dir as string, c.file)));
    const h = await backend.load(bytes, { digest: sha256(bytes) });
    const d = backend.describe(h);
    const decoder = parseDecoderSpec({
      kind: 'retinaface',
      layout: 'anchors',
      score_threshold: 0.5,
    });
    if (!isDetector(decoder) || decoder.kind !== 'retinaface' || decoder.layout !== 'anchors') {
      throw new Error('not the anchors decoder');
    }
    t.doesNotThrow(() => checkDecoderFits(decoder, d.outputs, { height: SIZE, width: SIZE }));
    const n = (c.shape as readonly number[]).reduce((a, b) => a * b, 1);
    const raw = seededBytes(n * (c.dtype === 'float32' ? 4 : 1), 11);
    const data = c.dtype === 'float32' ? new Float32Array(raw.buffer) : new Int8Array(raw.buffer);
    const r = await backend.infer(h, { data: makeTensor(c.dtype, c.shape, data as never) });
    const dets = decodeBoxes(decoder, r.outputs, { preprocess }, d, undefined);

    // Independently: every anchor of batch item 0 whose face probability beats the threshold.
    const quantization = Object.fromEntries(
      d.outputs.map((o) => [o.name, { scale: o.scale, zeroPoint: o.zeroPoint }]),
    );
    const cands = anchorCandidates(decoder, r.outputs, quantization, { width: SIZE, height: SIZE });
    t.ok(cands.length > 0, `${cands.length} anchors above the threshold`);
    t.ok(
      dets.length >= 1 && dets.length <= Math.min(cands.length, decoder.max_detections),
      `${dets.length} detections after NMS`,
    );
    const scores = new Set(cands.map((x) => x.score));
    t.ok(
      dets.every((x) => scores.has(x.score)),
      'every score is a face probability of the cls outputs',
    );
    t.ok(
      dets.every((x, i) => i === 0 || dets[i - 1]!.score >= x.score),
      'best first',
    );
    t.ok(
      dets.every((x) => x.box.every((v) => v >= 0 && v <= SIZE)),
      'boxes inside the image',
    );
    const best = cands.reduce((m, x) => (x.score > m.score ? x : m));
    t.equal(dets[0]!.score, best.score, 'the best anchor leads');
    const top = cands.filter((x) => x.score === best.score);
    t.ok(
      top.some((x) => x.box.every((v, k) => Math.abs(v - dets[0]!.box[k]!) < 1e-3)),
      `top box ${JSON.stringify(dets[0]!.box)} is the anchor transform of its deltas (1e-3 px)`,
    );
    t.equal(dets[0]!.landmarks?.length, 10, 'five landmarks');
  });
}
