// A vendor BMODEL (the RetinaFace face detector compiled by tpu-nntc) as a bundle, end to end on
// the libsophon emulator, through the commands a user runs: `bmfleet package` with its
// preprocessing, the retinaface anchors decoder and a golden set whose reference outputs were
// recorded on the device with `bmfleet golden record`; `bundle sign`; `model push` to a running controller; `rollout create`
// through the controller's rollout engine to an agent started with `--runtime bmrt`. The agent
// checks the golden gate on the device, then `/v1/infer` answers with the BMODEL's output shapes
// and decoded boxes. Emulator outputs are synthetic (docs/libsophon.md), so the boxes are checked
// for the decode's arithmetic, not for faces. A second bundle whose recorded outputs belong to
// other images fails the gate on the device and never serves.
import t from 'tap';
import { cp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  freePort,
  startTestController,
  tempDir,
} from '../../harness/controller/test-controller.js';
import { spawnForTest } from '../../harness/processes.js';
import { waitFor } from '../../harness/wait.js';
import {
  FACE_SIZE,
  agentReady,
  bmfleetCli,
  bundleDigest,
  captureOutput,
  deviceView,
  packFaceBundle,
  rollOutAndWait,
  rotateRecording,
  writeFaceWorkspace,
} from '../../harness/vendor-bundle.js';
import { EMULATOR_DIR, bindingSkip } from '../native/libsophon-fixtures.js';
import { VENDOR_SKIP_REASON, vendorDir } from '../shared/bmodel/fixtures.js';
import { declaredOutputs, expectedFaceCandidates, servedOutputs } from '../helpers/served-face.js';

const vendor = vendorDir();
const skip = bindingSkip() || (vendor ? false : VENDOR_SKIP_REASON);
const FILE = 'face_detection_fp32_b1.bmodel';
const BIN = new URL('../../bin/bmfleet.js', import.meta.url).pathname;

interface InferBody {
  bundleDigest: string;
  detections: { box: [number, number, number, number]; score: number; landmarks?: number[] }[];
}

t.test('vendor RetinaFace BMODEL: package, push, roll out to bmrt, infer', { skip }, async (t) => {
  const work = await tempDir('bmf-vendor-e2e-');
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const ctl = await startTestController(join(work, 'controller'));
  t.teardown(() => ctl.handle.stop());
  const env = {
    ...process.env,
    BMFLEET_URL: ctl.handle.apiUrl,
    BMFLEET_TOKEN: ctl.token,
    BMFLEET_LIBSOPHON_DIR: EMULATOR_DIR,
  };
  const bmfleet = bmfleetCli(work, env);

  const bmodelPath = join(vendor!, FILE);
  const { images } = await writeFaceWorkspace(work);
  // What a board records for the golden images (here on the emulator), and a recording that
  // belongs to other images.
  await bmfleet(
    ...['golden', 'record', '--bmodel', bmodelPath, '--preprocess', 'spec.json'],
    ...['--images', 'golden', '--out', 'ref'],
  );
  await cp(join(work, 'ref'), join(work, 'ref-other'), { recursive: true });
  await rotateRecording(join(work, 'ref-other'));

  const pack = (sequence: number, reference: string, out: string) =>
    packFaceBundle(bmfleet, { bmodelPath, sequence, reference, out });
  const packed = await pack(1, 'ref', 'bundles/face-1');
  t.match(packed, /golden: 3 samples, checked on the device: output cosine >= 0\.999/);
  const manifest = JSON.parse(
    await readFile(join(work, 'bundles/face-1/manifest.json'), 'utf8'),
  ) as { runtime: string; outputs: { decoder?: unknown }; golden?: { expectedCosine: number } };
  t.equal(manifest.runtime, 'bmrt', 'a vendor BMODEL packs for the bmrt runtime');
  t.match(manifest.outputs.decoder, { kind: 'retinaface', layout: 'anchors' });
  t.equal(manifest.golden?.expectedCosine, 0.999);
  await pack(2, 'ref-other', 'bundles/face-2');
  for (const b of ['bundles/face-1', 'bundles/face-2']) {
    await bmfleet('bundle', 'sign', b, '--keys', ctl.handle.keysDir);
  }

  await bmfleet('device', 'add', 'se5-01', '--chip', 'bm1684', '--out', 'agent.json');
  const apiPort = await freePort();
  const agent = spawnForTest(
    t,
    process.execPath,
    [BIN, 'agent', '--config', 'agent.json', '--runtime', 'bmrt', '--state-dir', 'agent-state'],
    { cwd: work, env: { ...env, BMFLEET_AGENT_API_PORT: String(apiPort) } },
  );
  const log = captureOutput(agent);
  await agentReady(log, 'se5-01', 120_000);
  t.match(log.text(), /runtime bmrt \(/, 'the agent says it runs bmrt and why');

  await bmfleet('model', 'push', 'bundles/face-1');
  await bmfleet('model', 'push', 'bundles/face-2');
  const good = await bundleDigest(bmfleet, '1.0.1');
  const other = await bundleDigest(bmfleet, '1.0.2');
  const device = () => deviceView(bmfleet, 'se5-01');
  await rollOutAndWait(bmfleet, {
    digest: good,
    device: 'se5-01',
    id: 'face-1',
    timeoutMs: 120_000,
  });

  const res = await fetch(`http://127.0.0.1:${apiPort}/v1/infer`, {
    method: 'POST',
    headers: { 'content-type': 'image/png' },
    body: images[0]!.bytes,
  });
  t.equal(res.status, 200);
  const body = (await res.json()) as InferBody;
  t.equal(body.bundleDigest, good);
  const served = await servedOutputs(apiPort);
  t.same(
    served.map((o) => [o.name, o.dtype, o.shape]),
    declaredOutputs(FILE),
    'the served model has every output of the BMODEL with its shape',
  );
  // The decode's arithmetic, recomputed independently. The request is 320x320, so the source
  // image is the input (no resize).
  const { decoder, candidates: cands } = await expectedFaceCandidates(images[0]!.bytes, served);
  t.ok(cands.length > 0, `${cands.length} anchors above the threshold`);
  const dets = body.detections;
  t.ok(
    dets.length >= 1 && dets.length <= Math.min(cands.length, decoder.max_detections),
    `${dets.length} detections after NMS`,
  );
  const scores = cands.map((x) => x.score);
  t.ok(
    dets.every((d) => scores.some((s) => Math.abs(s - d.score) <= 1e-6)),
    'every score is a face probability of the cls outputs (1e-6)',
  );
  t.ok(
    dets.every((d, i) => i === 0 || dets[i - 1]!.score >= d.score),
    'best first',
  );
  const best = cands.reduce((m, x) => (x.score > m.score ? x : m));
  t.ok(Math.abs(dets[0]!.score - best.score) <= 1e-6, 'the best anchor leads (1e-6)');
  t.ok(
    cands
      .filter((x) => x.score === best.score)
      .some((x) => x.box.every((v, k) => Math.abs(v - dets[0]!.box[k]!) < 1e-3)),
    `top box ${JSON.stringify(dets[0]!.box)} is the anchor transform of its deltas (1e-3 px)`,
  );
  t.ok(
    dets.every((d) => d.box.every((v) => v >= 0 && v <= FACE_SIZE)),
    'boxes inside the image',
  );

  // bm_get_stat reaches the controller: the agent's telemetry carries the device's figures
  // (the emulator's 4096 MiB device, the loaded BMODEL's memory in use).
  interface TpuTelemetry {
    reports: number;
    latest?: { percent: number; memUsedBytes: number; memTotalBytes: number };
  }
  let tpu: TpuTelemetry | undefined;
  await waitFor(
    'telemetry with the device figures',
    async () => {
      const r = await fetch(`${ctl.handle.apiUrl}/v1/telemetry?device=se5-01`, {
        headers: ctl.auth,
      });
      tpu = ((await r.json()) as { tpu?: TpuTelemetry }).tpu;
      return (tpu?.reports ?? 0) > 0;
    },
    120_000,
  );
  t.equal(tpu?.latest?.memTotalBytes, 4096 * 2 ** 20, 'telemetry carries bm_get_stat memory');
  t.ok((tpu?.latest?.memUsedBytes ?? 0) > 0, 'the loaded BMODEL holds device memory');
  t.ok(Number.isFinite(tpu?.latest?.percent), 'and the TPU utilisation');

  // Recorded outputs of other images: the device's own gate refuses the bundle.
  await bmfleet('rollout', 'create', other, '--ids', 'se5-01', '--id', 'face-2');
  await waitFor(
    'the gate failure reported',
    async () => {
      return (await device()).lastErrorCode === 'BMF_ERR_AGENT_GATE_FAILED';
    },
    120_000,
  );
  t.equal((await device()).activeBundle, good, 'the bundle that failed its gate never serves');
  t.match(
    log.text(),
    /output cosine -?\d\.\d+ below 0\.999/,
    'the gate compared outputs on the device',
  );
});
