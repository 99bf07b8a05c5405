// The vendor-BMODEL path with the board package under qemu-aarch64: the controller runs on this
// host (x86-64), the package's own arm64 Node.js runs the agent with `runtime: bmrt` on the
// package's aarch64 libsophon emulator. The golden references are recorded on the "board" with
// `bmfleet-agent golden record`, packed, signed and pushed on the host, rolled out through the
// controller's rollout engine, and the emulated agent checks the gate and answers `/v1/infer` with
// every output of the BMODEL's shape. One device: qemu is slow, every wait is on a condition with
// a generous bound. Needs a package built beforehand (npm run build:board) and qemu; otherwise it
// skips saying what is missing.
import t from 'tap';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { findBoardPackage } from '../../harness/board-package.js';
import {
  freePort,
  startTestController,
  tempDir,
} from '../../harness/controller/test-controller.js';
import { exitOf, spawnForTest } from '../../harness/processes.js';
import {
  agentReady,
  bmfleetCli,
  bundleDigest,
  captureOutput,
  deviceView,
  packFaceBundle,
  rollOutAndWait,
  writeFaceWorkspace,
} from '../../harness/vendor-bundle.js';
import { declaredOutputs, expectedFaceCandidates, servedOutputs } from '../helpers/served-face.js';
import { VENDOR_SKIP_REASON, vendorDir } from '../shared/bmodel/fixtures.js';

const FILE = 'face_detection_fp32_b1.bmodel';
const vendor = vendorDir();
const board = findBoardPackage();
const skip = !board.ok ? board.reason : vendor ? false : VENDOR_SKIP_REASON;
if (skip) console.log(`# qemu rollout skipped: ${skip}`);
/**
 * Generous bounds for qemu on a loaded host: the whole test took 251 s at load average 20 on 2
 * cores (docs/libsophon.md); tap's file timeout (.taprc) is 600 s.
 */
const QEMU_WAIT_MS = 240_000;

t.test(
  'vendor BMODEL: recorded on the emulated board, rolled out to its bmrt agent, /v1/infer',
  { skip, timeout: 590_000 },
  async (t) => {
    if (!board.ok) return;
    const pkg = board.pkg;
    const started = performance.now();
    const work = await tempDir('bmf-board-rollout-');
    t.teardown(() => rm(work, { recursive: true, force: true }));
    const ctl = await startTestController(join(work, 'controller'));
    t.teardown(() => ctl.handle.stop());
    const env = { ...process.env, BMFLEET_URL: ctl.handle.apiUrl, BMFLEET_TOKEN: ctl.token };
    const bmfleet = bmfleetCli(work, env);
    const boardEnv = { ...env, ...pkg.env };
    const bmodelPath = join(vendor!, FILE);
    const { images } = await writeFaceWorkspace(work, [1, 2]);

    // On the board: the reference outputs, by the package's own CLI on its libsophon.
    const [cmd, ...args] = pkg.argv([
      ...['golden', 'record', '--bmodel', bmodelPath, '--preprocess', 'spec.json'],
      ...['--images', 'golden', '--out', 'ref', '--json'],
    ]);
    const recorder = spawnForTest(t, cmd!, args, { cwd: work, env: boardEnv });
    const recorderLog = captureOutput(recorder);
    await exitOf(recorder);
    if (recorder.exitCode !== 0) t.comment(recorderLog.text());
    t.equal(recorder.exitCode, 0, 'golden record under qemu exits 0');
    const recordedAt = performance.now();
    const recording = JSON.parse(recorderLog.text()) as { arch: string; runtime: string };
    t.match(recording, { arch: 'arm64', runtime: 'bmrt' }, 'recorded by the arm64 node on bmrt');

    // On the host: package with the recording, sign, push, enrol the device.
    const packed = await packFaceBundle(bmfleet, {
      bmodelPath,
      sequence: 1,
      reference: 'ref',
      out: 'bundles/face-1',
    });
    t.match(packed, /golden: 2 samples, checked on the device: output cosine >= 0\.999/);
    await bmfleet('bundle', 'sign', 'bundles/face-1', '--keys', ctl.handle.keysDir);
    await bmfleet('model', 'push', 'bundles/face-1');
    const digest = await bundleDigest(bmfleet, '1.0.1');
    await bmfleet('device', 'add', 'se5-01', '--chip', 'bm1684', '--out', 'agent.json');

    // On the board: the agent, arm64 under qemu, runtime bmrt.
    const apiPort = await freePort();
    const [acmd, ...aargs] = pkg.argv([
      ...['--config', 'agent.json', '--runtime', 'bmrt', '--state-dir', 'agent-state'],
    ]);
    const agent = spawnForTest(t, acmd!, aargs, {
      cwd: work,
      env: { ...boardEnv, BMFLEET_AGENT_API_PORT: String(apiPort) },
    });
    const log = captureOutput(agent);
    await agentReady(log, 'se5-01', QEMU_WAIT_MS);
    const readyAt = performance.now();
    t.match(log.text(), /runtime bmrt \(/, 'the emulated agent runs bmrt and says why');

    await rollOutAndWait(bmfleet, {
      digest,
      device: 'se5-01',
      id: 'face-1',
      timeoutMs: QEMU_WAIT_MS,
    }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${log.text()}`, { cause: e });
    });
    const activeAt = performance.now();
    t.equal((await deviceView(bmfleet, 'se5-01')).lastErrorCode, undefined, 'no install error');
    t.notMatch(log.text(), /refused by the golden gate/, 'the recording passed the device gate');

    const res = await fetch(`http://127.0.0.1:${apiPort}/v1/infer`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: images[0]!.bytes,
    });
    t.equal(res.status, 200);
    const body = (await res.json()) as {
      bundleDigest: string;
      detections: { box: number[]; score: number }[];
    };
    t.equal(body.bundleDigest, digest, 'answered by the rolled-out bundle');
    const served = await servedOutputs(apiPort);
    t.same(
      served.map((o) => [o.name, o.dtype, o.shape]),
      declaredOutputs(FILE),
      'the emulated board serves every output of the BMODEL with its shape',
    );

    // The arm64 agent's answer, recomputed on the host: the emulator's outputs for this image's
    // preprocessed bytes, through the anchor transform; its best detection leads.
    const { candidates: cands } = await expectedFaceCandidates(images[0]!.bytes, served);
    const best = Math.max(...cands.map((c) => c.score));
    t.ok(body.detections.length >= 1, `${body.detections.length} detections`);
    t.ok(
      Math.abs(body.detections[0]!.score - best) <= 1e-6,
      `the best anchor (${best}) leads the arm64 answer (1e-6)`,
    );

    const s = (a: number, b: number) => ((b - a) / 1000).toFixed(1);
    t.comment(
      `qemu run: record ${s(started, recordedAt)} s, package+agent start ${s(recordedAt, readyAt)} s, rollout to active ${s(readyAt, activeAt)} s, total ${s(started, performance.now())} s`,
    );
  },
);
