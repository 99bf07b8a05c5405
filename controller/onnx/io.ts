// The model's real inputs (graph inputs that are not initializers; before IR 4 initializers were
// also listed as inputs) and its outputs, with element type and dims as declared.
import type { OnnxIo, OnnxModel, OnnxValueInfo } from './types.js';
import { initializerNames } from './tensors.js';

function toIo(v: OnnxValueInfo): OnnxIo {
  const t = v.type?.tensorType;
  return {
    name: v.name ?? '',
    elemType: t?.elemType ?? 0,
    dims: (t?.shape?.dim ?? []).map((d) =>
      d.dimValue !== undefined && d.dimValue > 0 ? d.dimValue : (d.dimParam ?? null),
    ),
  };
}

export function graphInputs(model: OnnxModel): OnnxIo[] {
  const inits = initializerNames(model);
  return (model.graph.input ?? []).filter((v) => !inits.has(v.name ?? '')).map(toIo);
}

export function graphOutputs(model: OnnxModel): OnnxIo[] {
  return (model.graph.output ?? []).map(toIo);
}

/** Declared dims with fixed values only, or undefined when any dim is symbolic or unknown. */
export function staticShape(io: OnnxIo): number[] | undefined {
  return io.dims.every((d): d is number => typeof d === 'number') ? [...io.dims] : undefined;
}
