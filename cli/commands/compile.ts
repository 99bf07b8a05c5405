// bmfleet compile: ONNX -> BMODEL with validation and a compile report (controller/compile).
import {
  compileModel,
  COMPILE_TARGETS,
  formatCompileReport,
} from '../../controller/compile/index.js';
import type { CompileTarget } from '../../controller/compile/index.js';
import { loadPreprocessSpecFile } from '../../controller/quantize/cli-files.js';
import { bmfError } from '../../shared/errors.js';
import { numberFlag, parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';

export const USAGE =
  'bmfleet compile --model m.onnx|m.pt --chip bm1684x --precision fp32|fp16|bf16 [--preprocess spec.json] ' +
  "[--input-shapes '[[1,3,224,224]]'] [--target sim|tpu-mlir|tpu-nntc] [--test-input img.png ...] " +
  '[--name NET] [--opset N] [--json] --out DIR\n' +
  '  (a TorchScript .pt needs --input-shapes and PyTorch: python3-torch, or $BMFLEET_PYTHON)';

function usage(reason: string): never {
  throw bmfError('BMF_ERR_USAGE', { reason: `${reason}\n${USAGE}` });
}

export function parseInputShapes(text: string): number[][] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    usage(`--input-shapes is not JSON: ${text}`);
  }
  const ok =
    Array.isArray(v) &&
    v.length > 0 &&
    v.every((s) => Array.isArray(s) && s.every((d) => Number.isSafeInteger(d) && d > 0));
  if (!ok) usage(`--input-shapes must be a list of shapes like [[1,3,224,224]], got ${text}`);
  return v as number[][];
}

export const run: CommandRun = async (ctx) => {
  const { values } = parseCommandArgs(
    ctx.argv,
    {
      model: { type: 'string' },
      chip: { type: 'string' },
      precision: { type: 'string', default: 'fp32' },
      preprocess: { type: 'string' },
      'input-shapes': { type: 'string' },
      target: { type: 'string', default: 'sim' },
      'test-input': { type: 'string', multiple: true },
      name: { type: 'string' },
      opset: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    USAGE,
    false,
  );
  if (values.help) {
    ctx.stdout.write(`usage: ${USAGE}\n`);
    return 0;
  }
  if (!values.model) usage('--model is required');
  if (!values.chip) usage('--chip is required');
  if (!values.out) usage('--out is required');
  if (!(COMPILE_TARGETS as readonly string[]).includes(values.target)) {
    usage(`--target must be one of ${COMPILE_TARGETS.join(', ')}`);
  }
  const inputShapes = values['input-shapes'] ? parseInputShapes(values['input-shapes']) : undefined;
  // The ONNX opsets the exporter and the vendor front ends take.
  const opset = numberFlag('opset', values.opset, { integer: true, min: 7, max: 22 });
  const result = await compileModel({
    modelPath: values.model,
    chip: values.chip,
    precision: values.precision,
    // Without --preprocess: the model's own preprocess.json beside it, as quantize does.
    preprocess: await loadPreprocessSpecFile(values.preprocess, values.model),
    ...(inputShapes ? { inputShapes } : {}),
    outDir: values.out,
    target: values.target as CompileTarget,
    ...(values['test-input'] ? { testInputs: values['test-input'] } : {}),
    ...(values.name ? { modelName: values.name } : {}),
    ...(opset ? { opset } : {}),
    env: ctx.env,
  });
  ctx.stdout.write(
    values.json
      ? `${JSON.stringify(result.report, null, 2)}\n`
      : formatCompileReport(result.report),
  );
  if (!values.json) ctx.stdout.write(`report     ${result.reportPath}\n`);
  return 0;
};
