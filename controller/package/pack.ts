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
import {
  checkDecoderFits,
  isDetector,
  parseDecoderSpec,
  type DecoderSpec,
  type MapResult,
} from '../../shared/detect/index.js';
import { bmfError } from '../../shared/errors.js';
import {
  preprocessImage,
  channelCount,
  type AuthoredPreprocessSpec,
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
import { readGoldenReferences } from './golden-reference.js';

export interface PackOptions {
  readonly bmodelPath: string;
  readonly name: string;
  readonly version: string;
  readonly sequence: number;
  readonly chips: readonly Chip[];
  readonly precision: Precision;
  /**
   * The preprocessing the model was calibrated with (vendor vocabulary), parsed where it was read;
   * the manifest signs it as authored.
   */
  readonly preprocess: AuthoredPreprocessSpec;
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
  /** Detectors: the gate accepts the golden mAP@[0.5:0.95] minus this margin (default 0.02). */
  readonly goldenMapMargin?: number;
  /**
   * Detectors: the FP32 ONNX model this BMODEL was quantized from. Its golden mAP is computed
   * beside the BMODEL's (metadata.goldenMap) and, with maxMapDrop, gates the packaging.
   */
  readonly referenceModelPath?: string;
  /** Refuse (BMF_ERR_GOLDEN_MAP_DROP) when mAP@[0.5:0.95] drops more than this from the reference. */
  readonly maxMapDrop?: number;
  /**
   * Vendor BMODELs (the host cannot run them): the outputs a board produced for each golden image
   * (golden-reference.ts layout). The agent's gate then compares its outputs with them.
   */
  readonly goldenReferenceDir?: string;
  /** The gate's minimum mean output cosine against the reference outputs (default 0.999). */
  readonly goldenMinCosine?: number;
  /** Vendor detectors with boxed golden images: the gate's minimum mAP@[0.5:0.95] on the device. */
  readonly goldenMinMap?: number;
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
  const { spec } = opts.preprocess;
  let decoder: DecoderSpec | undefined;
  if (opts.decoder !== undefined) {
    decoder = parseDecoderSpec(opts.decoder);
    checkDecoderFits(decoder, net.stages[0]?.outputs ?? [], {
      height: spec.resize_dims[0],
      width: spec.resize_dims[1],
    });
  }
  const detector = decoder && isDetector(decoder) ? decoder : undefined;
  const isSim = isSimulatorBmodel(bmodel);
  const work = await mkdtemp(join(tmpdir(), 'bmf-pack-'));
  try {
    const files: BuildInput[] = [{ role: 'bmodel', source: opts.bmodelPath, path: 'model.bmodel' }];
    let golden: BundleManifest['golden'];
    let goldenMap: Record<string, unknown> | undefined;
    if (opts.goldenReferenceDir !== undefined && (isSim || !opts.golden?.length)) {
      throw bmfError('BMF_ERR_USAGE', {
        reason: isSim
          ? 'reference outputs recorded on a board are for vendor BMODELs; this one runs on the host'
          : 'reference outputs need the golden images they were recorded for',
      });
    }
    if (opts.golden && opts.golden.length > 0) {
      const recorded = opts.goldenReferenceDir
        ? await readGoldenReferences(
            opts.goldenReferenceDir,
            opts.golden.map((g) => g.path),
            net.stages[0]?.outputs ?? [],
          )
        : undefined;
      const images = recorded
        ? opts.golden.map((g, i) => ({ ...g, recordedOutputs: recorded[i]! }))
        : opts.golden;
      const session = isSim ? await createOnnxSession(simulatorPayload(bytes, bmodel)) : undefined;
      const reference =
        detector && opts.referenceModelPath
          ? await createOnnxSession(await readFile(opts.referenceModelPath))
          : undefined;
      try {
        const { json, summary } = await buildGoldenSet(
          images,
          input.name,
          spec,
          session ? (feeds) => session.run(feeds) : undefined,
          detector
            ? {
                decoder: detector,
                ...(reference ? { reference: (feeds) => reference.run(feeds) } : {}),
              }
            : undefined,
        );
        const goldenPath = join(work, 'golden.json');
        await writeFile(goldenPath, JSON.stringify(json));
        files.push({ role: 'golden', source: goldenPath, path: 'golden.json' });
        if (summary.map) {
          goldenMap = mapFigures(summary.map, summary.referenceMap);
          checkMapDrop(summary.map, summary.referenceMap, opts.maxMapDrop);
          golden = {
            // Detector golden sets carry boxes, not class labels: mAP is their accuracy gate.
            expectedAccuracy: 0,
            expectedCosine: 0.999,
            expectedMap: Math.max(0, summary.map.map - (opts.goldenMapMargin ?? 0.02)),
            count: summary.count,
          };
        } else if (!isSim) {
          // A vendor BMODEL: the device checks itself against what a board recorded and, for
          // a detector with boxes, against the mAP floor the user set.
          golden = vendorGate(summary, opts, detector !== undefined);
        } else if (summary.accuracy !== undefined) {
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
        await reference?.release();
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
        inputs: [{ name: input.name, preprocess: opts.preprocess.authored }],
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
          ...(goldenMap ? { goldenMap } : {}),
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

function vendorGate(
  summary: { count: number; hasReferenceOutputs: boolean },
  opts: PackOptions,
  detector: boolean,
): BundleManifest['golden'] {
  if (opts.goldenMinMap !== undefined && !detector) {
    throw bmfError('BMF_ERR_USAGE', { reason: 'a golden mAP floor needs a detector decoder' });
  }
  if (!summary.hasReferenceOutputs && opts.goldenMinMap === undefined) return undefined;
  return {
    expectedAccuracy: 0,
    expectedCosine: summary.hasReferenceOutputs ? (opts.goldenMinCosine ?? 0.999) : -1,
    ...(opts.goldenMinMap !== undefined ? { expectedMap: opts.goldenMinMap } : {}),
    count: summary.count,
  };
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

function mapFigures(map: MapResult, reference: MapResult | undefined): Record<string, unknown> {
  const of = (m: MapResult) => ({
    map: round6(m.map),
    map50: round6(m.map50),
    perClass: m.perClass.map((c) => ({
      classId: c.categoryId,
      ap: round6(c.ap),
      ap50: round6(c.ap50),
    })),
  });
  return { ...of(map), ...(reference ? { reference: of(reference) } : {}) };
}

/** The controller's golden check: this BMODEL's mAP against the FP32 model it came from. */
export function checkMapDrop(
  map: MapResult,
  reference: MapResult | undefined,
  maxDrop: number | undefined,
): void {
  if (maxDrop === undefined) return;
  if (!reference) {
    throw bmfError('BMF_ERR_USAGE', {
      reason: 'a maximum mAP drop needs the reference (FP32) model to compare with',
    });
  }
  const drop = reference.map - map.map;
  if (drop > maxDrop) {
    throw bmfError('BMF_ERR_GOLDEN_MAP_DROP', {
      map: map.map.toFixed(4),
      reference: reference.map.toFixed(4),
      maxDrop: String(maxDrop),
    });
  }
}
