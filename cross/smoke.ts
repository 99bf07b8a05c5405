// Board smoke test, shipped in the package as dist/cross/smoke.js: loads a simulator BMODEL with
// the agent's own sim backend (onnxruntime-node) and classifies a golden set, printing one JSON
// line. Run on a board, or here under qemu, to prove the packaged native modules load and compute:
//   node/bin/node dist/cross/smoke.js --bmodel tiny.bmodel --golden golden.json
// With --bmrt VENDOR.bmodel it instead runs a vendor BMODEL through the packaged libsophon binding
// on $BMFLEET_LIBSOPHON_DIR (libsophon on a board, the packaged emulator elsewhere) and prints
// the net's output names and shapes.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createSystemClock } from '../agent/clock.js';
import { createSimSessionPool } from '../agent/runtime/session-pool.js';
import { createSimBackend } from '../agent/runtime/sim.js';
import { createBmrtBackend } from '../agent/runtime/bmrt/backend.js';
import { openLibsophon } from '../agent/runtime/bmrt/libsophon.js';
import { bmfError, toBmfError } from '../shared/errors.js';
import type { Tensor } from '../shared/tensor.js';

interface GoldenFile {
  readonly shape: number[];
  readonly inputs: string[];
  readonly input?: string;
}

export interface SmokeResult {
  readonly arch: string;
  readonly node: string;
  readonly labels: number[];
  readonly logits: number[][];
  /** sharp (libvips) round trip: a generated PNG decoded back to raw pixels. */
  readonly sharp: { readonly bytes: number; readonly firstPixel: number[] };
}

async function sharpRoundTrip(): Promise<SmokeResult['sharp']> {
  const background = { r: 200, g: 100, b: 50 };
  const png = await sharp({ create: { width: 4, height: 3, channels: 3, background } })
    .png()
    .toBuffer();
  const raw = await sharp(png).raw().toBuffer();
  return { bytes: raw.length, firstPixel: [...raw.subarray(0, 3)] };
}

export interface BmrtSmokeResult {
  readonly arch: string;
  readonly net: string;
  readonly outputs: [string, string, number[]][];
}

async function bmrtSmoke(file: string): Promise<BmrtSmokeResult> {
  const bytes = await readFile(file);
  const backend = createBmrtBackend({
    device: openLibsophon(),
    clock: createSystemClock(),
    timing: 'host',
  });
  try {
    const digest = createHash('sha256').update(bytes).digest('hex');
    const handle = await backend.load(bytes, { digest });
    const d = backend.describe(handle);
    const feeds: Record<string, Tensor> = {};
    for (const i of d.inputs) {
      const n = i.shape.reduce((a, b) => a * b, 1);
      feeds[i.name] = (
        i.dtype === 'int8'
          ? { dtype: 'int8', shape: i.shape, data: new Int8Array(n) }
          : { dtype: 'float32', shape: i.shape, data: new Float32Array(n) }
      ) as Tensor;
    }
    const r = await backend.infer(handle, feeds);
    return {
      arch: process.arch,
      net: d.netName,
      outputs: Object.entries(r.outputs).map(([name, t]) => [name, t.dtype, [...t.shape]]),
    };
  } finally {
    await backend.close();
  }
}

async function main(): Promise<SmokeResult | BmrtSmokeResult> {
  const { values } = parseArgs({
    options: { bmodel: { type: 'string' }, golden: { type: 'string' }, bmrt: { type: 'string' } },
  });
  if (values.bmrt) return bmrtSmoke(values.bmrt);
  if (!values.bmodel || !values.golden) {
    throw bmfError('BMF_ERR_USAGE', { reason: 'smoke.js --bmodel FILE --golden FILE' });
  }
  const bytes = await readFile(values.bmodel);
  const golden = JSON.parse(await readFile(values.golden, 'utf8')) as GoldenFile;
  const backend = createSimBackend({
    pool: createSimSessionPool(),
    clock: createSystemClock(),
    timing: 'host',
  });
  const digest = createHash('sha256').update(bytes).digest('hex');
  const handle = await backend.load(bytes, { digest });
  const inputName = golden.input ?? backend.describe(handle).inputs[0]?.name ?? 'input';
  const labels: number[] = [];
  const logits: number[][] = [];
  for (const b64 of golden.inputs) {
    const buf = Buffer.from(b64, 'base64');
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    const feeds: Record<string, Tensor> = {
      [inputName]: { dtype: 'float32', shape: golden.shape, data },
    };
    const result = await backend.infer(handle, feeds);
    const out = Object.values(result.outputs)[0];
    const row = Array.from(out?.data as Float32Array);
    logits.push(row);
    labels.push(row.indexOf(Math.max(...row)));
  }
  await backend.unload(handle);
  return {
    arch: process.arch,
    node: process.version,
    labels,
    logits,
    sharp: await sharpRoundTrip(),
  };
}

main().then(
  (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
  (e: unknown) => {
    const err = toBmfError(e);
    process.stderr.write(`${err.code}: ${err.message}\n`);
    process.exitCode = 1;
  },
);
