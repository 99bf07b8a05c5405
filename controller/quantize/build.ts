// From tables to an INT8 simulator BMODEL: calibration table (+ quantize table) -> QDQ graph ->
// BMODEL file. Shared by `bmfleet quantize` and `bmfleet umodel build`.
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import { parseCalibrationTable, type CalibrationEntry } from './calibration-table.js';
import { int8BmodelBytes } from './int8-bmodel.js';
import type { PreparedModel } from './prepared-model.js';
import { buildInt8Graph, type Int8Graph } from './qdq.js';
import { parseQuantizeTable, type LayerPrecision } from './quantize-table.js';

export interface QuantPlan {
  readonly entries: ReadonlyMap<string, CalibrationEntry>;
  readonly thresholds: ReadonlyMap<string, number>;
  readonly requested: ReadonlyMap<string, LayerPrecision>;
}

/** Parse both tables against the model: unknown tensors or layers are typed errors. */
export function planFromTables(
  pm: PreparedModel,
  calibrationText: string,
  quantizeText?: string,
): QuantPlan {
  const entries = parseCalibrationTable(calibrationText, new Set(pm.activations));
  const requested =
    quantizeText === undefined
      ? new Map<string, LayerPrecision>()
      : parseQuantizeTable(quantizeText, new Set(pm.layers.map((l) => l.name)));
  return {
    entries,
    thresholds: new Map([...entries].map(([n, e]) => [n, e.threshold])),
    requested,
  };
}

export interface BuiltInt8 {
  readonly graph: Int8Graph;
  readonly bmodel: Uint8Array;
  readonly bmodelPath: string;
  readonly sha256: string;
}

export async function buildInt8Bmodel(
  pm: PreparedModel,
  plan: Pick<QuantPlan, 'thresholds' | 'requested'>,
  options: { chip: string; netName: string; outDir: string; now?: Date },
): Promise<BuiltInt8> {
  const graph = buildInt8Graph(pm.model, pm.layers, {
    thresholds: plan.thresholds,
    precisions: plan.requested,
  });
  const { bmodel } = await int8BmodelBytes(pm, graph, options);
  await mkdir(options.outDir, { recursive: true });
  const bmodelPath = join(options.outDir, `${options.netName}_int8.bmodel`);
  await writeFileAtomic(bmodelPath, bmodel);
  return {
    graph,
    bmodel,
    bmodelPath,
    sha256: createHash('sha256').update(bmodel).digest('hex'),
  };
}
