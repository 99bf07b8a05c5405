// The vendor RetinaFace BMODEL as a bundle, through the commands a user runs: golden images,
// reference outputs recorded with `bmfleet golden record`, `bmfleet package`, `bundle sign`,
// `model push`, `device add`, `rollout create`, and the agent's readiness and device state as
// the controller sees them. Shared by the end-to-end test on the host and the one that runs the
// board package's agent under qemu-aarch64 (test/e2e, test/cross).
import { execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, rename, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { waitFor } from './wait.js';

export const FACE_SIZE = 320;
export const FACE_PREPROCESS = { resize_dims: [FACE_SIZE, FACE_SIZE], pixel_format: 'bgr' };
export const FACE_DECODER = { kind: 'retinaface', layout: 'anchors', score_threshold: 0.5 };
const BIN = new URL('../bin/bmfleet.js', import.meta.url).pathname;
const execFileAsync = promisify(execFile);

/** Runs `bmfleet ARGS` (this checkout, host Node.js) in `cwd`; its stdout, or an error with both streams. */
export type BmfleetCli = (...args: string[]) => Promise<string>;

export function bmfleetCli(cwd: string, env: NodeJS.ProcessEnv): BmfleetCli {
  return async (...args) => {
    try {
      return (await execFileAsync(process.execPath, [BIN, ...args], { cwd, env })).stdout;
    } catch (e) {
      const x = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`bmfleet ${args.join(' ')}: ${x.message}\n${x.stdout}\n${x.stderr}`, {
        cause: e,
      });
    }
  };
}

/** Golden images: flat colours with a bright square, one per seed (320x320 PNG). */
export async function goldenFaceImage(seed: number): Promise<Buffer> {
  const square = await sharp({
    create: { width: 80, height: 80, channels: 3, background: { r: 250, g: 240, b: 230 } },
  })
    .png()
    .toBuffer();
  return sharp({
    create: {
      width: FACE_SIZE,
      height: FACE_SIZE,
      channels: 3,
      background: { r: (seed * 67) % 256, g: (seed * 131) % 256, b: (seed * 29) % 256 },
    },
  })
    .composite([{ input: square, left: 20 + seed * 30, top: 40 + seed * 20 }])
    .png()
    .toBuffer();
}

export interface FaceWorkspace {
  /** `face-<seed>.png` under work/golden, in seed order. */
  readonly images: readonly { name: string; bytes: Buffer }[];
}

/** Writes spec.json, decoder.json and golden/face-<seed>.png into `work`. */
export async function writeFaceWorkspace(
  work: string,
  seeds: readonly number[] = [1, 2, 3],
): Promise<FaceWorkspace> {
  await writeFile(join(work, 'spec.json'), JSON.stringify(FACE_PREPROCESS));
  await writeFile(join(work, 'decoder.json'), JSON.stringify(FACE_DECODER));
  await mkdir(join(work, 'golden'), { recursive: true });
  const images = [];
  for (const seed of seeds) {
    const img = { name: `face-${seed}.png`, bytes: await goldenFaceImage(seed) };
    await writeFile(join(work, 'golden', img.name), img.bytes);
    images.push(img);
  }
  return { images };
}

/**
 * A recording that belongs to other images: each image's folder of `ref` renamed to the next
 * image's name (in sorted order), so the files are well-formed but the outputs do not match.
 */
export async function rotateRecording(ref: string): Promise<void> {
  const folders = (await readdir(ref)).sort();
  for (const f of folders) await rename(join(ref, f), join(ref, `${f}.moving`));
  for (const [i, f] of folders.entries()) {
    await rename(join(ref, `${f}.moving`), join(ref, folders[(i + 1) % folders.length]!));
  }
}

/** `bmfleet package` of the face BMODEL with its golden images and a recording, into `out`. */
export function packFaceBundle(
  cli: BmfleetCli,
  o: { bmodelPath: string; sequence: number; reference: string; out: string },
): Promise<string> {
  return cli(
    'package',
    ...['--bmodel', o.bmodelPath, '--preprocess', 'spec.json', '--decoder', 'decoder.json'],
    ...['--name', 'face', '--version', `1.0.${o.sequence}`, '--sequence', String(o.sequence)],
    ...['--chip', 'bm1684', '--precision', 'fp32', '--source-model', o.bmodelPath],
    ...['--toolchain', 'tpu-nntc', '--toolchain-version', '2.2'],
    ...['--golden', 'golden', '--golden-reference', o.reference, '--out', o.out],
  );
}

/** The registry digest of the bundle pushed with `version`. */
export async function bundleDigest(cli: BmfleetCli, version: string): Promise<string> {
  const list = JSON.parse(await cli('model', 'bundles', '--json')) as {
    digest: string;
    version: string;
  }[];
  const found = list.find((b) => b.version === version);
  if (!found) throw new Error(`no bundle ${version} in the registry`);
  return found.digest;
}

export interface DeviceView {
  readonly activeBundle?: string;
  readonly lastErrorCode?: string;
}

export async function deviceView(cli: BmfleetCli, id: string): Promise<DeviceView> {
  return JSON.parse(await cli('device', 'show', id, '--json')) as DeviceView;
}

/** `rollout create DIGEST --ids DEVICE`, then waits until the controller sees it active there. */
export async function rollOutAndWait(
  cli: BmfleetCli,
  o: { digest: string; device: string; id: string; timeoutMs: number },
): Promise<void> {
  await cli('rollout', 'create', o.digest, '--ids', o.device, '--id', o.id);
  await waitFor(
    `bundle ${o.digest.slice(0, 19)} active on ${o.device}`,
    async () => (await deviceView(cli, o.device)).activeBundle === o.digest,
    o.timeoutMs,
  );
}

/** Collects a child's stdout and stderr; `text()` is everything so far. */
export function captureOutput(child: ChildProcess): { text(): string } {
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  return { text: () => log };
}

/** Waits for the agent's "agent ID ready" line; the error carries its whole log. */
export async function agentReady(
  log: { text(): string },
  id: string,
  timeoutMs: number,
): Promise<void> {
  const ready = new RegExp(`agent ${id} ready`);
  await waitFor(`agent ${id} ready`, () => ready.test(log.text()), timeoutMs).catch((e) => {
    throw new Error(`${(e as Error).message}\n${log.text()}`, { cause: e });
  });
}
