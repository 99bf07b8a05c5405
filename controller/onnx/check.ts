// Up-front checks of a model against what the compile path supports. checkSupported returns every
// problem found (never only the first) so a user fixes a model in one round; assertSupported turns
// a non-empty list into one typed error that lists them all.
import { bmfError } from '../../shared/errors.js';
import { defaultOpset } from './codec.js';
import { graphInputs } from './io.js';
import { OPSET_RANGE, SUPPORTED_OPS } from './operators.js';
import type { OnnxModel } from './types.js';
import { ONNX_DTYPE, ONNX_DTYPE_NAMES } from './types.js';

export type OnnxProblemKind =
  | 'unknown-op'
  | 'custom-domain'
  | 'opset'
  | 'external-data'
  | 'non-float-input'
  | 'dynamic-shape'
  | 'input-shapes';

export interface OnnxProblem {
  readonly kind: OnnxProblemKind;
  readonly message: string;
}

function fmt(dims: readonly (number | string | null)[]): string {
  return `[${dims.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}

function opProblems(model: OnnxModel): OnnxProblem[] {
  const unknown = new Map<string, number>();
  const custom = new Map<string, number>();
  for (const node of model.graph.node ?? []) {
    const domain = node.domain ?? '';
    const op = node.opType ?? '';
    if (domain !== '' && domain !== 'ai.onnx') {
      const key = `${domain}::${op}`;
      custom.set(key, (custom.get(key) ?? 0) + 1);
    } else if (!SUPPORTED_OPS.has(op)) {
      unknown.set(op, (unknown.get(op) ?? 0) + 1);
    }
  }
  return [
    ...[...unknown].map(([op, n]) => ({
      kind: 'unknown-op' as const,
      message: `unsupported operator ${op} (${n} node${n > 1 ? 's' : ''})`,
    })),
    ...[...custom].map(([op, n]) => ({
      kind: 'custom-domain' as const,
      message: `operator ${op} from a custom domain (${n} node${n > 1 ? 's' : ''})`,
    })),
  ];
}

function inputProblems(
  model: OnnxModel,
  inputShapes?: readonly (readonly number[])[],
): OnnxProblem[] {
  const problems: OnnxProblem[] = [];
  const inputs = graphInputs(model);
  for (const io of inputs) {
    if (io.elemType !== ONNX_DTYPE.FLOAT) {
      const type = ONNX_DTYPE_NAMES[io.elemType] ?? String(io.elemType);
      problems.push({ kind: 'non-float-input', message: `input ${io.name} is ${type}, not FLOAT` });
    }
  }
  if (!inputShapes) {
    for (const io of inputs) {
      if (io.dims.length === 0 || io.dims.some((d) => typeof d !== 'number')) {
        problems.push({
          kind: 'dynamic-shape',
          message: `input ${io.name} has dynamic dimensions ${fmt(io.dims)}: pass --input-shapes`,
        });
      }
    }
    return problems;
  }
  if (inputShapes.length !== inputs.length) {
    problems.push({
      kind: 'input-shapes',
      message: `--input-shapes gives ${inputShapes.length} shapes, the model has ${inputs.length} inputs`,
    });
    return problems;
  }
  inputs.forEach((io, k) => {
    const given = inputShapes[k] ?? [];
    if (given.some((d) => !Number.isSafeInteger(d) || d <= 0)) {
      problems.push({
        kind: 'input-shapes',
        message: `shape ${fmt(given)} for ${io.name} has a non-positive dimension`,
      });
    } else if (io.dims.length > 0 && given.length !== io.dims.length) {
      problems.push({
        kind: 'input-shapes',
        message: `shape ${fmt(given)} for ${io.name} has rank ${given.length}, the model declares ${fmt(io.dims)}`,
      });
    } else if (io.dims.some((d, i) => typeof d === 'number' && d !== given[i])) {
      problems.push({
        kind: 'input-shapes',
        message: `shape ${fmt(given)} for ${io.name} contradicts the fixed dimensions ${fmt(io.dims)}`,
      });
    }
  });
  return problems;
}

export function checkSupported(
  model: OnnxModel,
  inputShapes?: readonly (readonly number[])[],
): OnnxProblem[] {
  const problems: OnnxProblem[] = [];
  const opset = defaultOpset(model);
  if (opset < OPSET_RANGE.min || opset > OPSET_RANGE.max) {
    problems.push({
      kind: 'opset',
      message: `default-domain opset ${opset} outside ${OPSET_RANGE.min}..${OPSET_RANGE.max}`,
    });
  }
  const external = (model.graph.initializer ?? []).filter((t) => t.dataLocation === 1);
  if (external.length) {
    problems.push({
      kind: 'external-data',
      message: `${external.length} initializers use external data (first: ${external[0]?.name}); save the model as one file`,
    });
  }
  return [...problems, ...opProblems(model), ...inputProblems(model, inputShapes)];
}

/**
 * Throws when checkSupported finds anything: BMF_ERR_MODEL_DYNAMIC_SHAPE when dynamic inputs are
 * the only problem (the fix is --input-shapes), otherwise BMF_ERR_MODEL_UNSUPPORTED listing all.
 */
export function assertSupported(
  model: OnnxModel,
  inputShapes?: readonly (readonly number[])[],
): void {
  const problems = checkSupported(model, inputShapes);
  if (problems.length === 0) return;
  const list = problems.map((p) => p.message).join('; ');
  if (problems.every((p) => p.kind === 'dynamic-shape')) {
    const dynamic = graphInputs(model).filter(
      (io) => io.dims.length === 0 || io.dims.some((d) => typeof d !== 'number'),
    );
    throw bmfError('BMF_ERR_MODEL_DYNAMIC_SHAPE', {
      input: dynamic.map((io) => io.name).join(', '),
      shape: dynamic.map((io) => fmt(io.dims)).join(', '),
      problems: list,
      count: problems.length,
    });
  }
  throw bmfError('BMF_ERR_MODEL_UNSUPPORTED', {
    reason: `${problems.length} problem${problems.length > 1 ? 's' : ''}: ${list}`,
    problems: list,
    count: problems.length,
  });
}

/** The static input shapes to compile for: the given ones, or the model's fixed declared dims. */
export function resolveInputShapes(
  model: OnnxModel,
  inputShapes?: readonly (readonly number[])[],
): number[][] {
  assertSupported(model, inputShapes);
  if (inputShapes) return inputShapes.map((s) => [...s]);
  return graphInputs(model).map((io) => io.dims as number[]);
}
