// `npm run bench -- preprocess`: a 1920x1080 JPEG (a real photograph scaled up) to a 224x224
// NCHW float32 tensor, against a bare sharp resize-to-raw of the same bytes measured in the same
// run (target ratio <= 1.3). Runs are interleaved so both see the same machine load; the whole
// measurement is repeated (BMFLEET_BENCH_REPEATS, default 5) and the median of the repeats'
// ratios is reported, wall and CPU, with the load average around each repeat.
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  nativeJpegAvailable,
  nativeResizeAvailable,
  parsePreprocessSpec,
  preprocessImage,
} from '../shared/preprocess/index.js';
import { nativeJpegPreprocessAvailable } from '../shared/preprocess/opencv-jpeg.js';

const PHOTO_DIR = process.env.BMFLEET_PHOTO_DIR ?? '/var/cache/bmfleet-testdata/photos';
const WARMUP = 20;
const RUNS = Number(process.env.BMFLEET_BENCH_RUNS ?? 40);
const REPEATS = Math.max(1, Number(process.env.BMFLEET_BENCH_REPEATS ?? 5));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

async function sourceJpeg(): Promise<Buffer> {
  let photo: Buffer;
  try {
    photo = readFileSync(join(PHOTO_DIR, 'chelsea.png'));
  } catch {
    console.log(`photo folder ${PHOTO_DIR} missing chelsea.png; using a synthetic gradient`);
    const w = 451;
    const h = 300;
    const px = Buffer.alloc(w * h * 3);
    for (let i = 0; i < px.length; i++) px[i] = (i * 7) & 255;
    photo = await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toBuffer();
  }
  return sharp(photo).resize(1920, 1080, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
}

interface Repeat {
  readonly base: number;
  readonly ours: number;
  readonly decode: number;
  readonly cpuBase: number;
  readonly cpuOurs: number;
  readonly load: readonly [number, number];
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** One repeat: RUNS interleaved rounds, medians per pipeline. */
async function measure(
  baseline: () => Promise<unknown>,
  ours: () => Promise<unknown>,
  decodeOnly: () => Promise<unknown>,
): Promise<Repeat> {
  const load0 = loadavg()[0] as number;
  const tBase: number[] = [];
  const tOurs: number[] = [];
  const tDecode: number[] = [];
  // CPU time of the whole process (libvips' and libuv's worker threads included) per image.
  const cBase: number[] = [];
  const cOurs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t0 = performance.now();
    let c0 = cpuMs();
    await baseline();
    tBase.push(performance.now() - t0);
    cBase.push(cpuMs() - c0);
    t0 = performance.now();
    c0 = cpuMs();
    await ours();
    tOurs.push(performance.now() - t0);
    cOurs.push(cpuMs() - c0);
    t0 = performance.now();
    await decodeOnly();
    tDecode.push(performance.now() - t0);
  }
  return {
    base: median(tBase),
    ours: median(tOurs),
    decode: median(tDecode),
    cpuBase: median(cBase),
    cpuOurs: median(cOurs),
    load: [load0, loadavg()[0] as number],
  };
}

export async function run(): Promise<void> {
  const jpeg = await sourceJpeg();
  const spec = parsePreprocessSpec({
    resize_dims: [224, 224],
    pixel_format: 'rgb',
    channel_format: 'nchw',
    mean: [123.675, 116.28, 103.53],
    scale: [0.017125, 0.017507, 0.017429],
  });
  // The honest baseline: what a user writes with sharp (it decodes JPEGs at 1/2..1/8 scale).
  const baseline = (): Promise<Buffer> => sharp(jpeg).resize(224, 224).raw().toBuffer();
  const ours = (): Promise<unknown> => preprocessImage(jpeg, spec);
  // For reference only, not the baseline: sharp decoding every pixel, as cv2.imread must.
  const decodeOnly = (): Promise<Buffer> => sharp(jpeg, { ignoreIcc: true }).raw().toBuffer();

  for (let i = 0; i < WARMUP; i++) {
    await baseline();
    await ours();
    await decodeOnly();
  }
  const path = nativeJpegPreprocessAvailable()
    ? 'one native pass (decode + INTER_LINEAR + layout on a libuv worker)'
    : `JPEG decode ${nativeJpegAvailable() ? 'native libjpeg' : 'sharp'}, INTER_LINEAR ` +
      `${nativeResizeAvailable() ? 'native' : 'JavaScript'}, layout JavaScript`;
  console.log(`preprocess: 1920x1080 JPEG (${jpeg.length} bytes) -> [1,3,224,224] float32`);
  console.log(`  preprocessImage path: ${path}`);
  console.log(
    `  ${REPEATS} repeats x ${RUNS} interleaved runs (after ${WARMUP} warm-up); ms/image, medians`,
  );
  console.log(
    '  repeat  load avg     sharp baseline wall/CPU  preprocessImage wall/CPU  ratio wall  ratio CPU  sharp full decode (ref.)',
  );
  const repeats: Repeat[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const m = await measure(baseline, ours, decodeOnly);
    repeats.push(m);
    const f = (x: number): string => x.toFixed(2).padStart(6);
    console.log(
      `  ${String(r + 1).padStart(6)}  ${m.load[0].toFixed(1).padStart(4)}-${m.load[1].toFixed(1).padEnd(5)}` +
        `  ${f(m.base)} / ${f(m.cpuBase)}          ${f(m.ours)} / ${f(m.cpuOurs)}` +
        `           ${(m.ours / m.base).toFixed(3)}      ${(m.cpuOurs / m.cpuBase).toFixed(3)}` +
        `      ${f(m.decode)}`,
    );
  }
  const wall = median(repeats.map((m) => m.ours / m.base));
  const cpu = median(repeats.map((m) => m.cpuOurs / m.cpuBase));
  const loads = repeats.flatMap((m) => m.load);
  console.log(
    `  median of ${REPEATS} repeats: ratio wall ${wall.toFixed(3)}x, CPU ${cpu.toFixed(3)}x ` +
      `(target <= 1.3x); load average ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} ` +
      `on ${availableParallelism()} cores`,
  );
}
