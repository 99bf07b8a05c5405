// `bmfleet quantize`: automatic INT8 quantization (controller/quantize/quantize-model.ts).
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isDetector, parseDecoderSpec, type DetectorSpec } from '../../shared/detect/index.js';
import { bmfError } from '../../shared/errors.js';
import { loadLabelsFile, loadPreprocessSpecFile } from '../../controller/quantize/cli-files.js';
import { parseMethodChoice } from '../../controller/quantize/calibration-run.js';
import { createProgressSink } from '../../controller/quantize/progress.js';
import { quantizeModel } from '../../controller/quantize/quantize-model.js';
import type { CommandRun } from '../main.js';

export const USAGE = `usage: bmfleet quantize --model m.onnx --calibration DIR [--eval DIR] --chip bm1684x
         [--preprocess spec.json] [--labels labels.txt] [--decoder decoder.json [--eval-boxes coco.json]] --out DIR
         [--method auto|kl|mse|max|percentile9999] [--max-float-layers N] [--json]`;

export const run: CommandRun = async (ctx) => {
  const { values } = parseArgs({
    args: [...ctx.argv],
    options: {
      model: { type: 'string' },
      calibration: { type: 'string' },
      eval: { type: 'string' },
      chip: { type: 'string' },
      preprocess: { type: 'string' },
      labels: { type: 'string' },
      decoder: { type: 'string' },
      'eval-boxes': { type: 'string' },
      out: { type: 'string' },
      method: { type: 'string', default: 'auto' },
      'max-float-layers': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    ctx.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { model, calibration, chip, out } = values;
  if (!model || !calibration || !chip || !out) {
    throw bmfError('BMF_ERR_USAGE', {
      reason: `--model, --calibration, --chip and --out are required\n${USAGE}`,
    });
  }
  const spec = await loadPreprocessSpecFile(values.preprocess, model);
  const labels = await loadLabelsFile(values.labels, model);
  const decoder = values.decoder ? await loadDetectorFile(values.decoder) : undefined;
  const progress = createProgressSink(ctx.stderr);
  const result = await quantizeModel({
    modelPath: model,
    calibrationDir: calibration,
    ...(values.eval ? { evalDir: values.eval } : {}),
    chip,
    spec,
    ...(labels ? { labels } : {}),
    ...(decoder ? { decoder } : {}),
    ...(values['eval-boxes'] ? { evalBoxes: values['eval-boxes'] } : {}),
    outDir: out,
    method: parseMethodChoice(values.method),
    ...(values['max-float-layers']
      ? { maxFloatLayers: parseCount(values['max-float-layers']) }
      : {}),
    onProgress: progress,
  });
  progress.end();
  ctx.stdout.write(
    values.json ? `${JSON.stringify(result.report, null, 2)}\n` : `${result.text}\n`,
  );
  return 0;
};

/** A detector's decoder JSON (shared/detect); a classify decoder needs no flag. */
async function loadDetectorFile(path: string): Promise<DetectorSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw bmfError('BMF_ERR_IO', { path, reason: (e as Error).message }, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bmfError('BMF_ERR_DECODER_SPEC', { field: path, reason: (e as Error).message });
  }
  const spec = parseDecoderSpec(json);
  if (!isDetector(spec)) {
    throw bmfError('BMF_ERR_USAGE', {
      reason: '--decoder names a detector (yolov5, yolov8, retinaface)',
    });
  }
  return spec;
}

export function parseCount(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) {
    throw bmfError('BMF_ERR_USAGE', {
      reason: `--max-float-layers takes a whole number, got "${s}"`,
    });
  }
  return n;
}
