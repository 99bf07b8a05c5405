// Pack a compiled BMODEL into a bundle directory: the BMODEL, its golden set (made here with the
// shared preprocessing and this BMODEL's own outputs), labels, the preprocessing manifest and the
// provenance. Signing is a separate step (shared/bundle signBundleDir) so keys never need to be
// where compilation runs.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBmodel, isSimulatorBmodel, simulatorPayload } from '../../shared/bmodel/index.js';
import { buildBundle, type BuildInput } from '../../shared/bundle/build.js';
import type { BundleManifest, Chip, Precision } from '../../shared/bundle/manifest.js';
import { checkDecoderFits, parseDecoderSpec } from '../../shared/detect/index.js';
import { bmfError } from '../../shared/errors.js';
import {
  parsePreprocessSpec,
  preprocessImage,
  channelCount,
  type PreprocessSpec,
} from '../../shared/preprocess/index.js';
import {
  accumulateMoments,
  emptyMoments,
  summarizeMoments,
  type ChannelSummary,
} from '../../shared/stats/channel-moments.js';
import { createOnnxSession } from '../onnx/index.js';
import { buildGoldenSet, type GoldenImage } from './golden.js';

export interface PackOptions {
  readonly bmodelPath: string;
  readonly name: string;
  readonly version: string;
  readonly sequence: number;
  readonly chips: readonly Chip[];
  readonly precision: Precision;
  /** Preprocessing spec JSON (vendor vocabulary), the one the model was calibrated with. */
  readonly preprocess: unknown;
  readonly labelsPath?: string;
  readonly topK?: number;
  /**
   * Output decoder JSON (shared/detect vocabulary); absent means classify (top-k). Checked
   * against the BMODEL's outputs and the preprocessing's input size before anything is written.
   */
  readonly decoder?: unknown;
  readonly golden?: readonly GoldenImage[];
  /**
   * Calibration images: their per-channel input statistics go into metadata.calibrationStats,
   * the reference for field quantization health (shared/stats/drift.ts).
   */
  readonly calibrationImages?: readonly string[];
  /** The gate accepts the golden accuracy minus this margin (host vs device float differences). */
  readonly goldenAccuracyMargin?: number;
  readonly provenance: BundleManifest['provenance'];
  readonly metadata?: Record<string, unknown>;
  readonly outDir: string;
  readonly now: Date;
  readonly expiresDays?: number;
}

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** Per-channel mean/std of the preprocessed calibration inputs, computed as the agent computes live ones. */
export async function calibrationStats(
  images: readonly string[],
  inputName: string,
  spec: PreprocessSpec,
): Promise<ChannelSummary[]> {
  const acc = emptyMoments(inputName, channelCount(spec));
  for (const path of images) {
    accumulateMoments(acc, await preprocessImage(await readFile(path), spec), spec.channel_format);
  }
  return summarizeMoments(acc);
}

export async function packBundle(opts: PackOptions): Promise<BundleManifest> {
  const bytes = await readFile(opts.bmodelPath);
  const bmodel = readBmodel(bytes);
  const net = bmodel.nets[0];
  const input = net?.stages[0]?.inputs[0];
  if (!net || !input) {
    throw bmfError('BMF_ERR_BMODEL_INVALID', { reason: 'BMODEL has no net with an input' });
  }
  const spec = parsePreprocessSpec(opts.preprocess);
  if (opts.decoder !== undefined) {
    checkDecoderFits(parseDecoderSpec(opts.decoder), net.stages[0]?.outputs ?? [], {
      height: spec.resize_dims[0],
      width: spec.resize_dims[1],
    });
  }
  const isSim = isSimulatorBmodel(bmodel);
  const work = await mkdtemp(join(tmpdir(), 'bmf-pack-'));
  try {
    const files: BuildInput[] = [{ role: 'bmodel', source: opts.bmodelPath, path: 'model.bmodel' }];
    let golden: BundleManifest['golden'];
    if (opts.golden && opts.golden.length > 0) {
      const session = isSim ? await createOnnxSession(simulatorPayload(bytes, bmodel)) : undefined;
      try {
        const { json, summary } = await buildGoldenSet(
          opts.golden,
          input.name,
          spec,
          session ? (feeds) => session.run(feeds) : undefined,
        );
        const goldenPath = join(work, 'golden.json');
        await writeFile(goldenPath, JSON.stringify(json));
        files.push({ role: 'golden', source: goldenPath, path: 'golden.json' });
        if (summary.accuracy !== undefined) {
          golden = {
            expectedAccuracy: Math.max(0, summary.accuracy - (opts.goldenAccuracyMargin ?? 0.05)),
            // Reference outputs come from this BMODEL itself: anything below this on the device
            // means the model or its preprocessing differs from what was packed.
            expectedCosine: 0.999,
            count: summary.count,
          };
        }
      } finally {
        await session?.release();
      }
    }
    if (opts.labelsPath)
      files.push({ role: 'labels', source: opts.labelsPath, path: 'labels.txt' });
    await mkdir(opts.outDir, { recursive: true });
    return await buildBundle({
      files,
      partial: {
        name: opts.name,
        version: opts.version,
        sequence: opts.sequence,
        chips: [...opts.chips],
        precision: opts.precision,
        runtime: isSim ? 'sim' : 'bmrt',
        inputs: [{ name: input.name, preprocess: opts.preprocess }],
        outputs: {
          topK: opts.topK ?? 5,
          ...(opts.decoder !== undefined ? { decoder: opts.decoder as { kind: string } } : {}),
          ...(opts.labelsPath ? { labels: { file: 'labels.txt' } } : {}),
        },
        ...(golden ? { golden } : {}),
        provenance: opts.provenance,
        metadata: {
          net: net.name,
          bmodelChip: bmodel.chip,
          ...(opts.calibrationImages?.length
            ? { calibrationStats: await calibrationStats(opts.calibrationImages, input.name, spec) }
            : {}),
          ...(opts.metadata ?? {}),
        },
      },
      outDir: opts.outDir,
      now: opts.now,
      ...(opts.expiresDays !== undefined ? { expiresDays: opts.expiresDays } : {}),
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
