// `bmfleet golden record`: on a board, run a vendor BMODEL over golden images and write what
// libsophon returned as the reference outputs `bmfleet package --golden-reference REF` reads
// (controller/package/golden-reference.ts): REF/<image name without extension>/<output>.npy, one
// per net output with its dtype and shape. Each image goes through the shared preprocessing
// (shared/preprocess) and the runtime backend exactly as the agent's golden gate feeds it, one
// image per inference. The board package runs it as `bmfleet-agent golden record ...`.
//
// The images are listed by the reader `bmfleet package --golden` uses (readDataset: the images
// directly in DIR, else those in its class folders), so every image package may take has its
// folder. Two images with the same name in different class folders would share one folder, so
// they are refused. REF is written whole or not at all: into a sibling temp folder, renamed at
// the end; an existing non-empty REF is never touched.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { createSystemClock } from '../../agent/clock.js';
import { createBmrtBackend } from '../../agent/runtime/bmrt/backend.js';
import { openLibsophon } from '../../agent/runtime/bmrt/libsophon.js';
import { libsophonDir } from '../../agent/runtime/bmrt/native.js';
import { createSimSessionPool } from '../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../agent/runtime/sim.js';
import type { RuntimeBackend } from '../../agent/runtime/types.js';
import { parseLabels, readDataset } from '../../controller/quantize/dataset.js';
import { readBmodel } from '../../shared/bmodel/read.js';
import { bmfError } from '../../shared/errors.js';
import { encodeNpy } from '../../shared/npy.js';
import { parseAuthoredPreprocessSpec, preprocessImage } from '../../shared/preprocess/index.js';
import type { PreprocessSpec } from '../../shared/preprocess/index.js';
import { parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';
import { readJsonFile } from '../json-file.js';

export const USAGE =
  'bmfleet golden record --bmodel FILE --preprocess spec.json --images DIR --out REF ' +
  '[--labels labels.txt] [--runtime bmrt|sim] [--json]';

export interface RecordedImage {
  readonly image: string;
  /** REF/<folder>/ holds this image's outputs. */
  readonly folder: string;
  readonly outputs: readonly { name: string; dtype: string; shape: readonly number[] }[];
}

export interface GoldenRecording {
  readonly out: string;
  readonly runtime: 'bmrt' | 'sim';
  readonly arch: string;
  readonly bmodelSha256: string;
  readonly net: string;
  readonly images: readonly RecordedImage[];
}

export interface RecordOptions {
  readonly bmodel: string;
  readonly spec: PreprocessSpec;
  readonly images: string;
  readonly labels?: readonly string[];
  readonly out: string;
  readonly runtime: 'bmrt' | 'sim';
  /** libsophon's install folder ($BMFLEET_LIBSOPHON_DIR), for runtime bmrt. */
  readonly libsophonDir: string;
}

function openBackend(options: RecordOptions): RuntimeBackend {
  const clock = createSystemClock();
  if (options.runtime === 'sim') {
    return createSimBackend({ pool: createSimSessionPool(), clock, timing: 'host' });
  }
  return createBmrtBackend({
    device: openLibsophon({ dir: options.libsophonDir }),
    clock,
    timing: 'host',
  });
}

/** The images in the order package lists them, each with the folder its outputs go to. */
async function listImages(
  dir: string,
  labels: readonly string[] | undefined,
): Promise<{ path: string; folder: string }[]> {
  const items = (await readDataset(dir, 'eval', labels)).items;
  const seen = new Map<string, string>();
  return items.map(({ path }) => {
    const folder = basename(path, extname(path));
    const other = seen.get(folder);
    if (other !== undefined) {
      throw bmfError('BMF_ERR_EVAL_DATA', {
        path: dir,
        reason: `${other} and ${path} would share the reference folder "${folder}"; rename one`,
      });
    }
    seen.set(folder, path);
    return { path, folder };
  });
}

async function refuseNonEmpty(out: string): Promise<void> {
  const entries = await readdir(out).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    throw bmfError('BMF_ERR_IO', { path: out, reason: e.message }, { cause: e });
  });
  if (entries.length > 0) {
    throw bmfError('BMF_ERR_USAGE', {
      reason: `--out ${out} exists and is not empty; give a new folder (nothing was written)`,
    });
  }
}

export async function recordGoldenReferences(options: RecordOptions): Promise<GoldenRecording> {
  const out = resolve(options.out);
  await refuseNonEmpty(out);
  const bytes = new Uint8Array(await readFile(options.bmodel));
  readBmodel(bytes); // validated at the edge before any device sees it
  const images = await listImages(options.images, options.labels);
  const bmodelSha256 = createHash('sha256').update(bytes).digest('hex');
  const backend = openBackend(options);
  const staging = join(dirname(out), `.${basename(out)}.recording-${process.pid}`);
  try {
    const handle = await backend.load(bytes, { digest: bmodelSha256 });
    const description = backend.describe(handle);
    const input = description.inputs[0];
    if (!input || description.inputs.length !== 1) {
      throw bmfError('BMF_ERR_BMODEL_UNSUPPORTED', {
        reason: `net ${description.netName} has ${description.inputs.length} inputs; a golden set feeds one`,
      });
    }
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    const recorded: RecordedImage[] = [];
    for (const img of images) {
      const tensor = await preprocessImage(new Uint8Array(await readFile(img.path)), options.spec);
      const { outputs } = await backend.infer(handle, { [input.name]: tensor });
      await mkdir(join(staging, img.folder));
      for (const [name, t] of Object.entries(outputs)) {
        await writeFile(join(staging, img.folder, `${name}.npy`), encodeNpy(t));
      }
      recorded.push({
        image: img.path,
        folder: img.folder,
        outputs: Object.entries(outputs).map(([name, t]) => ({
          name,
          dtype: t.dtype,
          shape: [...t.shape],
        })),
      });
    }
    await backend.unload(handle);
    await mkdir(dirname(out), { recursive: true });
    await rm(out, { recursive: true, force: true }); // empty or absent (checked above)
    await rename(staging, out);
    return {
      out,
      runtime: options.runtime,
      arch: process.arch,
      bmodelSha256,
      net: description.netName,
      images: recorded,
    };
  } finally {
    await rm(staging, { recursive: true, force: true });
    await backend.close?.();
  }
}

function summary(r: GoldenRecording): string {
  const outputs = r.images[0]?.outputs ?? [];
  return (
    `recorded ${r.images.length} images x ${outputs.length} outputs of net ${r.net} (runtime ${r.runtime}, ${r.arch}) into ${r.out}\n` +
    outputs.map((o) => `  ${o.name}.npy ${o.dtype}[${o.shape.join(',')}]\n`).join('') +
    `next: bmfleet package ... --golden IMAGES --golden-reference ${r.out}\n`
  );
}

export const run: CommandRun = async (ctx) => {
  const [sub, ...rest] = ctx.argv;
  if (sub !== 'record') throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
  const v = parseCommandArgs(
    rest,
    {
      bmodel: { type: 'string' },
      preprocess: { type: 'string' },
      images: { type: 'string' },
      out: { type: 'string' },
      labels: { type: 'string' },
      runtime: { type: 'string', default: 'bmrt' },
      json: { type: 'boolean', default: false },
    },
    USAGE,
    false,
  ).values;
  const { bmodel, preprocess, images, out, runtime } = v;
  if (!bmodel || !preprocess || !images || !out || (runtime !== 'bmrt' && runtime !== 'sim')) {
    throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
  }
  // Parsed with the parser `bmfleet package --preprocess` uses, so both preprocess alike.
  const { spec } = parseAuthoredPreprocessSpec(
    await readJsonFile(preprocess, 'BMF_ERR_PREPROCESS_SPEC'),
  );
  const recording = await recordGoldenReferences({
    bmodel,
    spec,
    images,
    ...(v.labels ? { labels: parseLabels(await readFile(v.labels, 'utf8')) } : {}),
    out,
    runtime,
    libsophonDir: libsophonDir(ctx.env),
  });
  ctx.stdout.write(v.json ? `${JSON.stringify(recording, null, 2)}\n` : summary(recording));
  return 0;
};
