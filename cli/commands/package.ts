// `bmfleet package`: pack a compiled BMODEL with its preprocessing, labels, golden set and
// provenance into a bundle directory (sign it afterwards with `bmfleet bundle sign`).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseReportMetadata } from '../../controller/package/compile-report.js';
import { packBundle, sha256File } from '../../controller/package/pack.js';
import { readBoxDataset } from '../../controller/quantize/box-dataset.js';
import { parseLabels, readDataset } from '../../controller/quantize/dataset.js';
import { isDetector, parseDecoderSpec } from '../../shared/detect/index.js';
import type { GoldenImage } from '../../controller/package/golden.js';
import { CHIPS, PRECISIONS, type Chip, type Precision } from '../../shared/bundle/manifest.js';
import { bmfError } from '../../shared/errors.js';
import { parseAuthoredPreprocessSpec } from '../../shared/preprocess/index.js';
import { numberFlag, parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';
import { readJsonFile } from '../json-file.js';

export const USAGE =
  'bmfleet package --bmodel F --preprocess spec.json --name N --version V --sequence S ' +
  '--chip C [--chip C] --precision P --source-model m.onnx [--labels labels.txt] [--decoder decoder.json] ' +
  '[--golden DIR] [--golden-per-class N] [--golden-boxes coco.json] [--golden-count N] ' +
  '[--max-map-drop X] [--golden-reference DIR] [--golden-min-cosine X] [--golden-min-map X] ' +
  '[--calibration DIR] [--toolchain NAME] [--toolchain-version V] ' +
  '[--calibration-method M] [--modeled-latency-ms X] --out DIR';

function pick<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw bmfError('BMF_ERR_USAGE', { reason: `${flag} must be one of ${allowed.join(', ')}` });
  }
  return value as T;
}

/**
 * The modeled device latency for the bundle's metadata (the agent's `modeled` timing mode reads
 * it): from --modeled-latency-ms, else from the compile or quantize report beside the BMODEL.
 */
async function compileMetadata(
  bmodelPath: string,
  override: string | undefined,
): Promise<Record<string, unknown>> {
  let ms: number | undefined;
  if (override !== undefined) {
    ms = Number(override);
    if (!Number.isFinite(ms) || ms <= 0) {
      throw bmfError('BMF_ERR_USAGE', { reason: '--modeled-latency-ms must be a positive number' });
    }
  }
  for (const name of ['compile-report.json', 'quantize_report.json']) {
    const path = join(dirname(bmodelPath), name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // nothing modeled to record
      throw bmfError('BMF_ERR_IO', { path, reason: (e as Error).message }, { cause: e });
    }
    const report = parseReportMetadata(text, path);
    // A TorchScript source: the .pt's digest, the PyTorch that exported it and the ONNX opset.
    const s = report.source;
    const source = s
      ? {
          source: {
            format: s.format,
            sha256: s.sha256,
            torchVersion: s.torchVersion,
            opset: s.opset,
          },
        }
      : {};
    if (ms !== undefined) return { modeledLatencyMs: ms, ...source };
    const latency = report.modeledLatency;
    if (latency && 'perImageMs' in latency) return { modeledLatency: latency, ...source };
    if (s) return source;
  }
  return ms !== undefined ? { modeledLatencyMs: ms } : {};
}

export const run: CommandRun = async (ctx) => {
  const v = parseCommandArgs(
    ctx.argv,
    {
      bmodel: { type: 'string' },
      preprocess: { type: 'string' },
      name: { type: 'string' },
      version: { type: 'string' },
      sequence: { type: 'string' },
      chip: { type: 'string', multiple: true },
      precision: { type: 'string' },
      'source-model': { type: 'string' },
      labels: { type: 'string' },
      decoder: { type: 'string' },
      golden: { type: 'string' },
      calibration: { type: 'string' },
      'golden-per-class': { type: 'string', default: '4' },
      'golden-boxes': { type: 'string' },
      'golden-count': { type: 'string', default: '16' },
      'max-map-drop': { type: 'string' },
      'golden-reference': { type: 'string' },
      'golden-min-cosine': { type: 'string' },
      'golden-min-map': { type: 'string' },
      toolchain: { type: 'string', default: 'bmfleet-sim' },
      'toolchain-version': { type: 'string', default: '0.1.0' },
      'calibration-method': { type: 'string' },
      'modeled-latency-ms': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    USAGE,
    false,
  ).values;
  const need = (k: keyof typeof v): string => {
    const x = v[k];
    if (typeof x !== 'string' || x === '')
      throw bmfError('BMF_ERR_USAGE', { reason: `--${k} is required; ${USAGE}` });
    return x;
  };
  const sequence = numberFlag('sequence', need('sequence'), { integer: true, min: 1 });
  const chips = (v.chip ?? []).map((c) => pick<Chip>(c.toLowerCase(), CHIPS, '--chip'));
  if (chips.length === 0)
    throw bmfError('BMF_ERR_USAGE', { reason: `--chip is required; ${USAGE}` });
  const labels = v.labels ? parseLabels(await readFile(v.labels, 'utf8')) : undefined;
  const decoderJson = v.decoder ? await readJsonFile(v.decoder, 'BMF_ERR_DECODER_SPEC') : undefined;
  const detector = decoderJson !== undefined && isDetector(parseDecoderSpec(decoderJson));
  let golden: GoldenImage[] | undefined;
  // A vendor detector gated by reference outputs recorded on a board needs no boxes.
  if (v.golden && detector && (v['golden-boxes'] || !v['golden-reference'])) {
    // Detector golden sets: images with boxes (YOLO txt beside them, or --golden-boxes COCO JSON).
    const count = numberFlag('golden-count', v['golden-count'], { integer: true, min: 1 });
    golden = (await readBoxDataset(v.golden, 'eval', v['golden-boxes']))
      .slice(0, count)
      .map((b) => ({ path: b.path, boxes: b.image }));
  } else if (v.golden) {
    const perClass = numberFlag('golden-per-class', v['golden-per-class'], {
      integer: true,
      min: 1,
    });
    const ds = await readDataset(v.golden, 'eval', labels);
    const taken = new Map<number | undefined, number>();
    golden = ds.items.filter((item) => {
      const n = taken.get(item.label) ?? 0;
      taken.set(item.label, n + 1);
      return n < perClass;
    });
  }
  // The spec is parsed here, at the flag, with the parser the manifest check uses.
  const preprocess = parseAuthoredPreprocessSpec(
    await readJsonFile(need('preprocess'), 'BMF_ERR_PREPROCESS_SPEC'),
  );
  const metadata = await compileMetadata(need('bmodel'), v['modeled-latency-ms']);
  const manifest = await packBundle({
    bmodelPath: need('bmodel'),
    name: need('name'),
    version: need('version'),
    sequence,
    chips,
    precision: pick<Precision>(need('precision'), PRECISIONS, '--precision'),
    preprocess,
    ...(v.labels ? { labelsPath: v.labels } : {}),
    ...(decoderJson !== undefined ? { decoder: decoderJson } : {}),
    // The source model is the FP32 original: a detector's golden mAP is computed with both.
    ...(detector && /\.onnx$/i.test(need('source-model'))
      ? { referenceModelPath: need('source-model') }
      : {}),
    ...(v['max-map-drop'] !== undefined
      ? { maxMapDrop: numberFlag('max-map-drop', v['max-map-drop'], { min: 0, max: 1 }) }
      : {}),
    ...(golden ? { golden } : {}),
    ...(v['golden-reference'] ? { goldenReferenceDir: v['golden-reference'] } : {}),
    ...(v['golden-min-cosine'] !== undefined
      ? {
          goldenMinCosine: numberFlag('golden-min-cosine', v['golden-min-cosine'], {
            min: -1,
            max: 1,
          }),
        }
      : {}),
    ...(v['golden-min-map'] !== undefined
      ? { goldenMinMap: numberFlag('golden-min-map', v['golden-min-map'], { min: 0, max: 1 }) }
      : {}),
    ...(v.calibration
      ? {
          calibrationImages: (await readDataset(v.calibration, 'calibration')).items.map(
            (i) => i.path,
          ),
        }
      : {}),
    provenance: {
      sourceModelSha256: await sha256File(need('source-model')),
      toolchain: v.toolchain ?? 'bmfleet-sim',
      toolchainVersion: v['toolchain-version'] ?? '0.1.0',
      ...(v['calibration-method'] ? { calibrationMethod: v['calibration-method'] } : {}),
    },
    metadata,
    outDir: need('out'),
    now: new Date(),
  });
  if (v.json) ctx.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
  else {
    ctx.stdout.write(
      `packed ${manifest.name} ${manifest.version} (${manifest.precision}, sequence ${manifest.sequence}) into ${v.out}\n` +
        `files: ${manifest.files.map((f) => `${f.role}:${f.path}`).join(', ')}\n` +
        goldenLine(manifest) +
        `next: bmfleet bundle sign ${v.out} --keys KEYDIR\n`,
    );
  }
  return 0;
};

interface MapFigures {
  map: number;
  map50: number;
  reference?: { map: number; map50: number };
}

function goldenLine(manifest: Awaited<ReturnType<typeof packBundle>>): string {
  const g = manifest.golden;
  if (!g) return 'golden: none\n';
  if (g.expectedMap === undefined && manifest.runtime === 'bmrt') {
    return `golden: ${g.count} samples, checked on the device: output cosine >= ${g.expectedCosine} against the recorded outputs\n`;
  }
  if (g.expectedMap === undefined) {
    return `golden: ${g.count} samples, gate accuracy >= ${g.expectedAccuracy.toFixed(3)}\n`;
  }
  const m = manifest.metadata['goldenMap'] as MapFigures | undefined;
  const ref = m?.reference
    ? `; FP32 reference mAP ${m.reference.map.toFixed(4)}, AP50 ${m.reference.map50.toFixed(4)}`
    : '';
  return (
    `golden: ${g.count} images with boxes, mAP ${m?.map.toFixed(4) ?? '-'}, AP50 ${m?.map50.toFixed(4) ?? '-'}${ref}\n` +
    `gate: mAP >= ${g.expectedMap.toFixed(4)}\n`
  );
}
