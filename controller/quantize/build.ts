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

/** The INT8 graph and BMODEL bytes in memory (nothing written), for callers that check first. */
export async function int8BmodelInMemory(
  pm: PreparedModel,
  plan: Pick<QuantPlan, 'thresholds' | 'requested'>,
  options: { chip: string; netName: string; now?: Date },
): Promise<{ graph: Int8Graph; bmodel: Uint8Array; sha256: string }> {
  const graph = buildInt8Graph(pm.model, pm.layers, {
    thresholds: plan.thresholds,
    precisions: plan.requested,
  });
  const { bmodel } = await int8BmodelBytes(pm, graph, options);
  return { graph, bmodel, sha256: createHash('sha256').update(bmodel).digest('hex') };
}

export function int8BmodelPath(outDir: string, netName: string): string {
  return join(outDir, `${netName}_int8.bmodel`);
}

export async function buildInt8Bmodel(
  pm: PreparedModel,
  plan: Pick<QuantPlan, 'thresholds' | 'requested'>,
  options: { chip: string; netName: string; outDir: string; now?: Date },
): Promise<BuiltInt8> {
  const built = await int8BmodelInMemory(pm, plan, options);
  await mkdir(options.outDir, { recursive: true });
  const bmodelPath = int8BmodelPath(options.outDir, options.netName);
  await writeFileAtomic(bmodelPath, built.bmodel);
  return { ...built, bmodelPath };
}
