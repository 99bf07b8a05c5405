// `npm run bench -- preprocess`: a 1920x1080 photograph to a 224x224 NCHW float32 tensor with
// the OpenCV-exact preprocessImage, against a bare sharp resize-to-raw of the same bytes measured
// in the same run (target ratio <= 1.3, held to the JPEG INTER_LINEAR case, one image at a time).
// Further lines: the same with N images in flight, INTER_NEAREST and INTER_AREA, and a PNG.
//
// Wall time on a shared machine drifts with the load, so the two pipelines are interleaved: every
// round runs the baseline and the candidate once each (alternating which goes first), and the
// figure is the median of the per-round ratios with its interquartile range, not a ratio of
// medians taken at different moments. CPU time (process.cpuUsage, every thread) is printed beside
// it: it does not depend on the load.
//
// Threads are matched: both pipelines run their per-image job on the libuv pool, and sharp is
// held to one libvips thread per image (sharp.concurrency(1), its default on glibc), so N images
// in flight keep N threads busy on either side when the pool has at least N threads.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  nativeJpegAvailable,
  nativeResizeAvailable,
  parsePreprocessSpec,
  preprocessImage,
  type CvInterpolation,
} from '../shared/preprocess/index.js';
import { nativeJpegPreprocessAvailable } from '../shared/preprocess/opencv-jpeg.js';

const PHOTO_DIR = process.env.BMFLEET_PHOTO_DIR ?? '/var/cache/bmfleet-testdata/photos';
const ROUNDS = Math.max(4, Number(process.env.BMFLEET_BENCH_ROUNDS ?? 100));
const WARMUP = 10;
// libuv's pool size is read once, when the pool starts; 4 when unset.
const POOL = Number(process.env.UV_THREADPOOL_SIZE ?? 4);

type Job = () => Promise<unknown>;

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (i - lo);
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * Ms this process's threads have spent runnable but waiting for a core (Linux schedstat, summed
 * over threads; NaN elsewhere): what separates wall time from CPU time on a loaded machine.
 */
function runQueueMs(): number {
  try {
    let sum = 0;
    for (const t of readdirSync('/proc/self/task')) {
      const fields = readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ');
      sum += Number(fields[1]) / 1e6;
    }
    return sum;
  } catch {
    return Number.NaN;
  }
}

async function photo(): Promise<Buffer> {
  try {
    return readFileSync(join(PHOTO_DIR, 'chelsea.png'));
  } catch {
    console.log(`photo folder ${PHOTO_DIR} missing chelsea.png; using a synthetic gradient`);
    const w = 451;
    const h = 300;
    const px = Buffer.alloc(w * h * 3);
    for (let i = 0; i < px.length; i++) px[i] = (i * 7) & 255;
    return sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toBuffer();
  }
}

/** `count` runs of `job` with `inFlight` of them started at once; wall, CPU, wait ms per image. */
async function timed(job: Job, count: number, inFlight: number): Promise<Sample> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next++ < count) await job();
  };
  const q0 = runQueueMs();
  const c0 = cpuMs();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, lane));
  const wall = (performance.now() - t0) / count;
  const cpu = (cpuMs() - c0) / count;
  return { wall, cpu, wait: (runQueueMs() - q0) / count };
}

interface Sample {
  readonly wall: number;
  readonly cpu: number;
  readonly wait: number;
}

interface Figures {
  readonly wall: [number, number, number]; // quartiles of the per-round wall ratio
  readonly cpu: number; // median per-round CPU ratio
  readonly base: Sample; // medians per image
  readonly ours: Sample;
  readonly load: [number, number];
}

/** ROUNDS rounds, each the baseline and ours once (order alternating), `perRound` images each. */
async function compare(base: Job, ours: Job, perRound: number, inFlight: number): Promise<Figures> {
  const load0 = loadavg()[0] as number;
  const wall: number[] = [];
  const cpu: number[] = [];
  const b: Sample[] = [];
  const o: Sample[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      b.push(await timed(base, perRound, inFlight));
      o.push(await timed(ours, perRound, inFlight));
    } else {
      o.push(await timed(ours, perRound, inFlight));
      b.push(await timed(base, perRound, inFlight));
    }
    wall.push((o[r] as Sample).wall / (b[r] as Sample).wall);
    cpu.push((o[r] as Sample).cpu / (b[r] as Sample).cpu);
  }
  const medians = (xs: Sample[]): Sample => ({
    wall: quantile(
      xs.map((x) => x.wall),
      0.5,
    ),
    cpu: quantile(
      xs.map((x) => x.cpu),
      0.5,
    ),
    wait: quantile(
      xs.map((x) => x.wait),
      0.5,
    ),
  });
  return {
    wall: [quantile(wall, 0.25), quantile(wall, 0.5), quantile(wall, 0.75)],
    cpu: quantile(cpu, 0.5),
    base: medians(b),
    ours: medians(o),
    load: [load0, loadavg()[0] as number],
  };
}

function row(label: string, f: Figures): string {
  const n = (x: number, d = 2): string => x.toFixed(d).padStart(6);
  const side = (x: Sample): string => `${n(x.wall)} /${n(x.cpu)} /${n(x.wait)}`;
  return (
    `  ${label.padEnd(33)} ${side(f.base)}   ${side(f.ours)}` +
    `  ${n(f.wall[1], 3)} [${f.wall[0].toFixed(2)}-${f.wall[2].toFixed(2)}] ${n(f.cpu, 3)}` +
    `  ${f.load[0].toFixed(1)}-${f.load[1].toFixed(1)}`
  );
}

export async function run(): Promise<void> {
  const source = await photo();
  const big = sharp(source).resize(1920, 1080, { fit: 'fill' });
  const jpeg = await big.clone().jpeg({ quality: 90 }).toBuffer();
  const png = await big.clone().png().toBuffer();
  const spec = (interpolation: CvInterpolation): ReturnType<typeof parsePreprocessSpec> =>
    parsePreprocessSpec({
      resize_dims: [224, 224],
      pixel_format: 'rgb',
      channel_format: 'nchw',
      mean: [123.675, 116.28, 103.53],
      scale: [0.017125, 0.017507, 0.017429],
      interpolation,
    });
  const linear = spec('INTER_LINEAR');
  // The baseline: what a user writes with sharp (it decodes JPEGs at 1/2..1/8 scale, which an
  // OpenCV-exact pipeline cannot: cv2.imread decodes every pixel).
  const bare =
    (bytes: Buffer): Job =>
    () =>
      sharp(bytes).resize(224, 224).raw().toBuffer();

  const threadsBefore = sharp.concurrency();
  sharp.concurrency(1);
  const cores = availableParallelism();
  const inFlight = Math.max(1, Math.min(cores, POOL));
  const jpegPath = nativeJpegPreprocessAvailable()
    ? 'one native pass (decode + INTER_LINEAR + layout on a libuv worker)'
    : `decode ${nativeJpegAvailable() ? 'native libjpeg' : 'sharp'}, resize ` +
      `${nativeResizeAvailable() ? 'native' : 'JavaScript'}, layout JavaScript`;
  console.log(`preprocess: 1920x1080 photograph -> [1,3,224,224] float32, RGB, NCHW`);
  console.log(`  JPEG ${jpeg.length} bytes (q90), PNG ${png.length} bytes`);
  console.log(`  JPEG INTER_LINEAR path: ${jpegPath}`);
  console.log(
    `  threads: sharp.concurrency ${sharp.concurrency()} (was ${threadsBefore}), libuv pool ` +
      `${POOL}${process.env.UV_THREADPOOL_SIZE ? '' : ' (default)'}, ${cores} cores; ` +
      `${ROUNDS} interleaved rounds per line`,
  );
  console.log(
    '  ms/image, medians: wall / CPU / waiting   sharp resize            preprocessImage' +
      '       ratio wall [IQR]      CPU  load avg',
  );

  const cases: { label: string; base: Job; ours: Job; perRound: number; inFlight: number }[] = [
    {
      label: 'JPEG INTER_LINEAR, 1 at a time *',
      base: bare(jpeg),
      ours: () => preprocessImage(jpeg, linear),
      perRound: 1,
      inFlight: 1,
    },
    {
      label: `JPEG INTER_LINEAR, ${inFlight} in flight`,
      base: bare(jpeg),
      ours: () => preprocessImage(jpeg, linear),
      perRound: 4 * inFlight,
      inFlight,
    },
    ...(['INTER_NEAREST', 'INTER_AREA'] as const).map((i) => ({
      label: `JPEG ${i}, 1 at a time`,
      base: bare(jpeg),
      ours: (
        (s) => () =>
          preprocessImage(jpeg, s)
      )(spec(i)),
      perRound: 1,
      inFlight: 1,
    })),
    ...(['INTER_LINEAR', 'INTER_AREA'] as const).map((i) => ({
      label: `PNG ${i}, 1 at a time`,
      base: bare(png),
      ours: (
        (s) => () =>
          preprocessImage(png, s)
      )(spec(i)),
      perRound: 1,
      inFlight: 1,
    })),
  ];
  try {
    let headline: Figures | undefined;
    for (const c of cases) {
      for (let i = 0; i < WARMUP; i++) {
        await c.base();
        await c.ours();
      }
      const f = await compare(c.base, c.ours, c.perRound, c.inFlight);
      headline ??= f;
      console.log(row(c.label, f));
    }
    if (headline) {
      console.log(
        `  * the issue's target: median wall ratio ${headline.wall[1].toFixed(3)}x ` +
          `(IQR ${headline.wall[0].toFixed(3)}-${headline.wall[2].toFixed(3)}), ` +
          `CPU ${headline.cpu.toFixed(3)}x, target <= 1.3x`,
      );
    }
  } finally {
    sharp.concurrency(threadsBefore);
  }
}
