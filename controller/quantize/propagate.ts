// Which tensor's statistics decide each activation's threshold, as tpu-mlir's INT8 lowering
// decides it. Before lowering, tpu-mlir rewrites the calibrated thresholds in two sweeps:
// BackwardCalibration (an op that does not change the value scale gives its output threshold to
// its input, when that input has no other use) and then ForwardCalibration (such an op's output
// takes its input's threshold). So Conv+Relu -> MaxPool -> Flatten ends with one threshold, the
// one calibrated on the Flatten output, for all three tensors. Thresholds the lowering overwrites
// are never used; measuring them would only cost time. This module computes the mapping from the
// graph's structure alone (no values are needed): the calibration measures each source once and
// every tensor takes its source's statistics, so the table, the sim INT8 graph and a vendor build
// from the same table agree.
import { operatorsWhere } from '../onnx/operators.js';
import type { QuantLayer } from './layers.js';

/** Ops whose input takes the output's threshold (tpu-mlir BackwardCalibration). */
export const BACKWARD_OPS = operatorsWhere((op) => op.calibration === 'backward');

/** Ops whose output takes the input's threshold (tpu-mlir ForwardCalibration). */
export const FORWARD_OPS = operatorsWhere((op) => op.calibration !== undefined);

/**
 * Activation -> the activation whose calibration statistics give its threshold (itself when
 * nothing propagates). `uses` counts each tensor's consumers, graph outputs included (a graph
 * output is a use, as the return op is in MLIR).
 */
export function thresholdSources(
  layers: readonly QuantLayer[],
  activations: readonly string[],
  uses: ReadonlyMap<string, number>,
): Map<string, string> {
  const isActivation = new Set(activations);
  const producer = new Map(layers.map((l) => [l.name, l]));
  const consumer = new Map<string, QuantLayer>();
  for (const l of layers) for (const i of l.inputs) consumer.set(i, l);
  // After the backward sweep: follow single-use chains of scale-preserving consumers downstream.
  const backward = (t: string): string => {
    const c = consumer.get(t);
    if (uses.get(t) !== 1 || !c || !BACKWARD_OPS.has(c.opType)) return t;
    if (c.inputs[0] !== t || !isActivation.has(c.name)) return t;
    return backward(c.name);
  };
  // After the forward sweep: a scale-preserving producer hands its input's final threshold on.
  const forward = (t: string): string => {
    const p = producer.get(t);
    const input = p?.inputs[0];
    if (p && input !== undefined && FORWARD_OPS.has(p.opType) && isActivation.has(input)) {
      return forward(input);
    }
    return backward(t);
  };
  return new Map(activations.map((t) => [t, forward(t)]));
}

/** The distinct sources in activation order: the tensors calibration has to measure. */
export function calibratedTensors(sources: ReadonlyMap<string, string>): string[] {
  const measured = new Set(sources.values());
  return [...sources.keys()].filter((t) => measured.has(t));
}
