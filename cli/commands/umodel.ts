// `bmfleet umodel export|calibrate|evaluate|build`: the step-by-step (UMODEL) quantization path
// (controller/quantize/umodel.ts and umodel-steps.ts).
import { basename, join } from 'node:path';
import { bmfError } from '../../shared/errors.js';
import { loadLabelsFile, loadPreprocessSpecFile } from '../../controller/quantize/cli-files.js';
import { parseMethodChoice } from '../../controller/quantize/calibration-run.js';
import { createProgressSink } from '../../controller/quantize/progress.js';
import { netNameOf, readModelFile } from '../../controller/quantize/quantize-model.js';
import { exportUmodel, loadUmodel } from '../../controller/quantize/umodel.js';
import {
  buildUmodel,
  calibrateUmodel,
  evaluateUmodel,
} from '../../controller/quantize/umodel-steps.js';
import { onnxModelInput } from './torch-input.js';
import { numberFlag, parseCommandArgs } from '../args.js';
import type { CommandContext, CommandRun } from '../command.js';
import { parseQuantizeTarget } from './quantize.js';
import { vendorQuantize } from '../../controller/quantize/vendor.js';
import { parseTolerance } from '../../controller/quantize/verdict.js';

export const USAGE = `usage:
  bmfleet umodel export --model m.onnx|m.pt [--input-shapes '[[1,3,224,224]]'] [--preprocess spec.json] [--labels labels.txt] --out m.fp32umodel
  bmfleet umodel calibrate U --calibration DIR [--method kl|mse|max|percentile9999|auto]
                           [--max-float-layers N] --out DIR      (writes cali_table, qtable, sensitivity.txt)
  bmfleet umodel evaluate U --cali-table T [--qtable Q] --eval DIR [--images N] [--json]
  bmfleet umodel build U --cali-table T [--qtable Q] --chip bm1684x --out DIR
                       [--target sim|tpu-mlir] [--calibration DIR] [--tolerance COS,EUC]
  --target tpu-mlir builds with the vendor's model_transform.py + model_deploy.py --quantize INT8,
  passing these tables (--calibration gives model_deploy one test image to compare against).`;

function usage(reason: string): never {
  throw bmfError('BMF_ERR_USAGE', { reason: `${reason}\n${USAGE}` });
}

function need<T>(v: T | undefined, flag: string): T {
  return v === undefined ? usage(`${flag} is required`) : v;
}

const steps: Record<string, (ctx: CommandContext, args: string[]) => Promise<number>> = {
  async export(ctx, args) {
    const { values } = parseCommandArgs(
      args,
      {
        model: { type: 'string' },
        preprocess: { type: 'string' },
        labels: { type: 'string' },
        'input-shapes': { type: 'string' },
        out: { type: 'string' },
      },
      USAGE,
      false,
    );
    const given = need(values.model, '--model');
    const out = need(values.out, '--out');
    const labels = await loadLabelsFile(values.labels, given);
    const spec = await loadPreprocessSpecFile(values.preprocess, given);
    // A TorchScript model is exported beside the UMODEL (<out>-torchscript/<name>.onnx).
    const model = await onnxModelInput(
      ctx,
      given,
      values['input-shapes'],
      spec,
      `${out}-torchscript`,
    );
    const u = await exportUmodel({
      modelPath: model,
      modelBytes: await readModelFile(model),
      spec,
      ...(labels ? { labels } : {}),
      name: netNameOf(basename(model)),
      outDir: out,
    });
    ctx.stdout.write(
      `wrote ${out}: ${u.manifest.activations.length} activation tensors, ${u.manifest.layers.length} layers, ` +
        `${u.manifest.foldedBatchNorms.length} BatchNorm folded\n`,
    );
    return 0;
  },
  async calibrate(ctx, args) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        calibration: { type: 'string' },
        method: { type: 'string', default: 'kl' },
        'max-float-layers': { type: 'string' },
        out: { type: 'string' },
      },
      USAGE,
      true,
    );
    const u = await loadUmodel(need(positionals[0], 'the UMODEL folder'));
    const progress = createProgressSink(ctx.stderr);
    const r = await calibrateUmodel(u, {
      calibrationDir: need(values.calibration, '--calibration'),
      method: parseMethodChoice(values.method),
      outDir: need(values.out, '--out'),
      ...(values['max-float-layers']
        ? {
            maxFloatLayers: numberFlag('max-float-layers', values['max-float-layers'], {
              integer: true,
              min: 0,
            }),
          }
        : {}),
      onProgress: progress,
    });
    progress.end();
    ctx.stdout.write(
      `wrote ${r.files.calibrationTable}, ${r.files.quantizeTable}, ${r.files.sensitivity}\n\n${r.sensitivity}`,
    );
    return 0;
  },
  async evaluate(ctx, args) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        'cali-table': { type: 'string' },
        qtable: { type: 'string' },
        eval: { type: 'string' },
        images: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      USAGE,
      true,
    );
    const u = await loadUmodel(need(positionals[0], 'the UMODEL folder'));
    const progress = createProgressSink(ctx.stderr);
    const r = await evaluateUmodel(u, {
      caliTablePath: need(values['cali-table'], '--cali-table'),
      ...(values.qtable ? { qtablePath: values.qtable } : {}),
      evalDir: need(values.eval, '--eval'),
      ...(values.images
        ? {
            similarityImages: Math.max(
              1,
              numberFlag('images', values.images, { integer: true, min: 0 }),
            ),
          }
        : {}),
      onProgress: progress,
    });
    progress.end();
    ctx.stdout.write(
      values.json
        ? `${JSON.stringify({ accuracy: r.accuracy, layers: r.layers }, null, 2)}\n`
        : r.text,
    );
    return 0;
  },
  async build(ctx, args) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        'cali-table': { type: 'string' },
        qtable: { type: 'string' },
        chip: { type: 'string' },
        out: { type: 'string' },
        target: { type: 'string', default: 'sim' },
        calibration: { type: 'string' },
        tolerance: { type: 'string' },
      },
      USAGE,
      true,
    );
    const u = await loadUmodel(need(positionals[0], 'the UMODEL folder'));
    const target = parseQuantizeTarget(values.target);
    if (target === 'tpu-nntc') {
      throw bmfError('BMF_ERR_USAGE', {
        reason:
          'umodel build takes a calibration table, which tpu-nntc cannot use; use --target tpu-mlir, or bmfleet quantize --target tpu-nntc --quantize-table',
      });
    }
    if (target !== 'sim') {
      const r = await vendorQuantize({
        target,
        modelPath: join(u.dir, 'model.onnx'),
        netName: u.manifest.name,
        spec: u.spec,
        chip: need(values.chip, '--chip'),
        outDir: need(values.out, '--out'),
        calibrationTable: need(values['cali-table'], '--cali-table'),
        ...(values.qtable ? { quantizeTable: values.qtable } : {}),
        ...(values.calibration ? { calibrationDir: values.calibration } : {}),
        ...(values.tolerance ? { tolerance: parseTolerance(values.tolerance) } : {}),
        env: ctx.env,
      });
      ctx.stdout.write(`${r.text}\n`);
      return 0;
    }
    const b = await buildUmodel(u, {
      caliTablePath: need(values['cali-table'], '--cali-table'),
      ...(values.qtable ? { qtablePath: values.qtable } : {}),
      chip: need(values.chip, '--chip'),
      outDir: need(values.out, '--out'),
    });
    const int8 = [...b.graph.precisions.values()].filter((p) => p === 'INT8').length;
    ctx.stdout.write(
      `wrote ${b.bmodelPath} (${b.bmodel.length} bytes, sha256 ${b.sha256}); ` +
        `${int8}/${b.graph.precisions.size} layers INT8\n`,
    );
    return 0;
  },
};

export const run: CommandRun = async (ctx) => {
  const [step, ...rest] = ctx.argv;
  if (!step || step === '--help' || step === '-h') {
    ctx.stdout.write(`${USAGE}\n`);
    return step ? 0 : 2;
  }
  const fn = steps[step];
  if (!fn) return usage(`unknown umodel step "${step}"`);
  return fn(ctx, rest);
};
