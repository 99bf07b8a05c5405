// `npm run bench -- preprocess`: a 1920x1080 JPEG (a real photograph scaled up) to a 224x224
// NCHW float32 tensor, against a bare sharp resize-to-raw of the same bytes measured in the same
// run (target ratio <= 1.3). Runs are interleaved so both see the same machine load.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  nativeJpegAvailable,
  nativeResizeAvailable,
  parsePreprocessSpec,
  preprocessImage,
} from '../shared/preprocess/index.js';

const PHOTO_DIR = process.env.BMFLEET_PHOTO_DIR ?? '/var/cache/bmfleet-testdata/photos';
const WARMUP = 20;
const RUNS = Number(process.env.BMFLEET_BENCH_RUNS ?? 200);

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

export async function run(): Promise<void> {
  const jpeg = await sourceJpeg();
  const spec = parsePreprocessSpec({
    resize_dims: [224, 224],
    pixel_format: 'rgb',
    channel_format: 'nchw',
    mean: [123.675, 116.28, 103.53],
    scale: [0.017125, 0.017507, 0.017429],
  });
  const baseline = (): Promise<Buffer> => sharp(jpeg).resize(224, 224).raw().toBuffer();
  const ours = (): Promise<unknown> => preprocessImage(jpeg, spec);
  // What cv2.imread must do before any resize: decode every pixel (no shrink-on-load).
  const decodeOnly = (): Promise<Buffer> => sharp(jpeg, { ignoreIcc: true }).raw().toBuffer();

  for (let i = 0; i < WARMUP; i++) {
    await baseline();
    await ours();
    await decodeOnly();
  }
  const tBase: number[] = [];
  const tOurs: number[] = [];
  const tDecode: number[] = [];
  // CPU time of the whole process (libvips' worker threads included) per image: on a loaded
  // machine wall time favours the multi-threaded baseline, CPU time compares the work done.
  const cBase: number[] = [];
  const cOurs: number[] = [];
  const cpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  for (let i = 0; i < RUNS; i++) {
    let t0 = performance.now();
    let c0 = cpu();
    await baseline();
    tBase.push(performance.now() - t0);
    cBase.push(cpu() - c0);
    t0 = performance.now();
    c0 = cpu();
    await ours();
    tOurs.push(performance.now() - t0);
    cOurs.push(cpu() - c0);
    t0 = performance.now();
    await decodeOnly();
    tDecode.push(performance.now() - t0);
  }
  const b = median(tBase);
  const o = median(tOurs);
  console.log(`preprocess: 1920x1080 JPEG (${jpeg.length} bytes) -> [1,3,224,224] float32`);
  console.log(`  runs ${RUNS} (after ${WARMUP} warm-up), medians:`);
  console.log(`  sharp resize-to-raw baseline  ${b.toFixed(3)} ms/image`);
  console.log(`  preprocessImage               ${o.toFixed(3)} ms/image`);
  const d = median(tDecode);
  console.log(`  full-size decode alone        ${d.toFixed(3)} ms/image (${(d / b).toFixed(3)}x)`);
  console.log(
    `  JPEG decode: ${nativeJpegAvailable() ? 'native libjpeg' : 'sharp'}; ` +
      `INTER_LINEAR kernel: ${nativeResizeAvailable() ? 'native' : 'JavaScript'}`,
  );
  console.log(`  ratio ${(o / b).toFixed(3)}x (target <= 1.3x)`);
  const cb = median(cBase);
  const co = median(cOurs);
  console.log(
    `  CPU time: baseline ${cb.toFixed(3)} ms, preprocessImage ${co.toFixed(3)} ms, ratio ${(co / cb).toFixed(3)}x`,
  );
}
