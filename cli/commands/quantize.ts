// `bmfleet quantize`: automatic INT8 quantization (controller/quantize/quantize-model.ts).
import { isDetector, parseDecoderSpec, type DetectorSpec } from '../../shared/detect/index.js';
import { bmfError } from '../../shared/errors.js';
import { loadLabelsFile, loadPreprocessSpecFile } from '../../controller/quantize/cli-files.js';
import { parseMethodChoice } from '../../controller/quantize/calibration-run.js';
import { createProgressSink } from '../../controller/quantize/progress.js';
import { quantizeModel } from '../../controller/quantize/quantize-model.js';
import { parseTolerance } from '../../controller/quantize/verdict.js';
import { vendorQuantize } from '../../controller/quantize/vendor.js';
import { numberFlag, parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';
import { readJsonFile } from '../json-file.js';
import { onnxModelInput } from './torch-input.js';

export const USAGE = `usage: bmfleet quantize --model m.onnx|m.pt --calibration DIR [--eval DIR] --chip bm1684x
         [--target sim|tpu-mlir|tpu-nntc] [--calibration-table T] [--quantize-table Q] [--input-num N]
         [--preprocess spec.json] [--labels labels.txt] [--input-shapes '[[1,3,224,224]]']
         [--decoder decoder.json [--eval-boxes coco.json]] --out DIR
         [--method auto|kl|mse|max|percentile9999] [--max-float-layers N]
         [--tolerance COS,EUC] [--allow-degraded] [--json]
The last line is the verdict: every output's cosine and euclidean similarity to FP32 must reach
the tolerance (default 0.8,0.5, as model_deploy.py). Below it nothing is written and the command
fails with BMF_ERR_QUANTIZE_DEGRADED; --allow-degraded writes the BMODEL anyway and exits 2.
--target tpu-mlir runs the vendor's model_transform.py, run_calibration.py (skipped when
--calibration-table is given) and model_deploy.py --quantize INT8 (with --quantize-table when
given; --tolerance is passed to it only when given), found through BMFLEET_TPU_MLIR_DIR or PATH.
--target tpu-nntc stores bmfleet's preprocessed calibration tensors in an LMDB (ufw.io), then runs
ufw.tools.on_to_umodel, calibration_use_pb quantize (--quantize-table F32 layers become
-fpfwd_outputs; --input-num sets -iterations) and bmnetu -prec=INT8 -cmp=1, found through
BMFLEET_TPU_NNTC_DIR or PATH; it takes no --calibration-table and no --tolerance.`;

export const run: CommandRun = async (ctx) => {
  const { values } = parseCommandArgs(
    ctx.argv,
    {
      model: { type: 'string' },
      calibration: { type: 'string' },
      eval: { type: 'string' },
      chip: { type: 'string' },
      preprocess: { type: 'string' },
      labels: { type: 'string' },
      'input-shapes': { type: 'string' },
      decoder: { type: 'string' },
      'eval-boxes': { type: 'string' },
      out: { type: 'string' },
      method: { type: 'string', default: 'auto' },
      'max-float-layers': { type: 'string' },
      tolerance: { type: 'string' },
      target: { type: 'string', default: 'sim' },
      'calibration-table': { type: 'string' },
      'quantize-table': { type: 'string' },
      'input-num': { type: 'string' },
      'allow-degraded': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    USAGE,
    false,
  );
  if (values.help) {
    ctx.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { model, calibration, chip, out } = values;
  const target = parseQuantizeTarget(values.target);
  if (target !== 'sim') {
    const simOnly = [
      'eval',
      'labels',
      'decoder',
      'eval-boxes',
      'max-float-layers',
      'allow-degraded',
      'json',
    ].filter((k) => values[k as keyof typeof values]);
    if (values.method !== 'auto') simOnly.push('method');
    if (simOnly.length > 0) {
      throw bmfError('BMF_ERR_USAGE', {
        reason: `${simOnly.map((k) => `--${k}`).join(', ')} apply to the sim target only (the vendor's tools validate a --target ${target} build)`,
      });
    }
    if (!model || !(calibration || values['calibration-table']) || !chip || !out) {
      throw bmfError('BMF_ERR_USAGE', {
        reason: `--model, --calibration (or --calibration-table), --chip and --out are required\n${USAGE}`,
      });
    }
    const r = await vendorQuantize({
      target,
      modelPath: model,
      spec: await loadPreprocessSpecFile(values.preprocess, model),
      chip,
      outDir: out,
      ...(calibration ? { calibrationDir: calibration } : {}),
      ...(values['calibration-table'] ? { calibrationTable: values['calibration-table'] } : {}),
      ...(values['quantize-table'] ? { quantizeTable: values['quantize-table'] } : {}),
      ...(values.tolerance ? { tolerance: parseTolerance(values.tolerance) } : {}),
      ...(values['input-num']
        ? { inputNum: numberFlag('input-num', values['input-num'], { integer: true, min: 0 }) }
        : {}),
      env: ctx.env,
    });
    ctx.stdout.write(`${r.text}\n`);
    return 0;
  }
  if (values['calibration-table'] || values['quantize-table'] || values['input-num']) {
    throw bmfError('BMF_ERR_USAGE', {
      reason:
        '--calibration-table, --quantize-table and --input-num are for --target tpu-mlir or tpu-nntc (the sim target: bmfleet umodel build)',
    });
  }
  if (!model || !calibration || !chip || !out) {
    throw bmfError('BMF_ERR_USAGE', {
      reason: `--model, --calibration, --chip and --out are required\n${USAGE}`,
    });
  }
  const spec = await loadPreprocessSpecFile(values.preprocess, model);
  const labels = await loadLabelsFile(values.labels, model);
  const onnx = await onnxModelInput(ctx, model, values['input-shapes'], spec, out);
  const decoder = values.decoder ? await loadDetectorFile(values.decoder) : undefined;
  const progress = createProgressSink(ctx.stderr);
  const result = await quantizeModel({
    modelPath: onnx,
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
      ? {
          maxFloatLayers: numberFlag('max-float-layers', values['max-float-layers'], {
            integer: true,
            min: 0,
          }),
        }
      : {}),
    ...(values.tolerance ? { tolerance: parseTolerance(values.tolerance) } : {}),
    allowDegraded: values['allow-degraded'],
    onProgress: progress,
  });
  progress.end();
  ctx.stdout.write(
    values.json ? `${JSON.stringify(result.report, null, 2)}\n` : `${result.text}\n`,
  );
  if (result.verdict.pass) return 0;
  if (result.written) return 2;
  throw bmfError('BMF_ERR_QUANTIZE_DEGRADED', {
    reason: result.verdict.outputs
      .filter((o) => !o.pass)
      .map((o) => `output ${o.output} cosine ${o.cosine.toFixed(6)}`)
      .join(', '),
  });
};

/** A detector's decoder JSON (shared/detect); a classify decoder needs no flag. */
async function loadDetectorFile(path: string): Promise<DetectorSpec> {
  const json = await readJsonFile(path, 'BMF_ERR_DECODER_SPEC');
  const spec = parseDecoderSpec(json);
  if (!isDetector(spec)) {
    throw bmfError('BMF_ERR_USAGE', {
      reason: '--decoder names a detector (yolov5, yolov8, retinaface)',
    });
  }
  return spec;
}

export const QUANTIZE_TARGETS = ['sim', 'tpu-mlir', 'tpu-nntc'] as const;
export type QuantizeTarget = (typeof QUANTIZE_TARGETS)[number];

export function parseQuantizeTarget(s: string | undefined): QuantizeTarget {
  if (s === undefined) return 'sim';
  if ((QUANTIZE_TARGETS as readonly string[]).includes(s)) return s as QuantizeTarget;
  throw bmfError('BMF_ERR_USAGE', {
    reason: `--target takes ${QUANTIZE_TARGETS.join(', ')}, got "${s}"`,
  });
}
