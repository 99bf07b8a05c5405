// Sensitivity ranking for automatic mixed precision (the vendor's `--search search_qtable` /
// `--max_float_layers`): the loss when each layer alone is quantized to INT8 (every other layer
// F32), measured as 1 - mean output cosine against FP32 on held-out images. The N most sensitive
// layers are kept in F32 by `mixedPrecisionPlan`.
import type { Tensor } from '../../shared/tensor.js';
import type { Progress } from './calibrate.js';
import type { PreparedModel } from './prepared-model.js';
import { buildInt8Graph } from './qdq.js';
import type { LayerPrecision } from './quantize-table.js';
import { scoreModel, type OutputSet } from './score.js';

export interface SensitivityRow {
  readonly layer: string;
  readonly opType: string;
  /** 1 - output cosine with only this layer in INT8. */
  readonly loss: number;
}

export async function sensitivityRanking(
  pm: PreparedModel,
  thresholds: ReadonlyMap<string, number>,
  heldOut: readonly Tensor[],
  reference: OutputSet,
  onProgress: (p: Progress) => void = () => undefined,
): Promise<SensitivityRow[]> {
  const capable = pm.layers.filter((l) => l.int8Capable);
  const rows: SensitivityRow[] = [];
  for (const [k, layer] of capable.entries()) {
    const precisions = new Map<string, LayerPrecision>(
      pm.layers.map((l) => [l.name, l === layer ? 'INT8' : 'F32']),
    );
    const g = buildInt8Graph(pm.model, pm.layers, { thresholds, precisions });
    const loss = 1 - (await scoreModel(pm, g.model, heldOut, reference));
    rows.push({ layer: layer.name, opType: layer.opType, loss });
    onProgress({ stage: 'sensitivity', done: k + 1, total: capable.length });
  }
  return rows.sort((a, b) => b.loss - a.loss);
}

/** Keep the `maxFloatLayers` most sensitive layers in F32, the rest INT8. */
export function mixedPrecisionPlan(
  pm: PreparedModel,
  ranking: readonly SensitivityRow[],
  maxFloatLayers: number,
): Map<string, LayerPrecision> {
  const float = new Set(ranking.slice(0, Math.max(0, maxFloatLayers)).map((r) => r.layer));
  return new Map(pm.layers.map((l) => [l.name, float.has(l.name) ? 'F32' : 'INT8']));
}
