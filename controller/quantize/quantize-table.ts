// The quantize table (tpu-mlir --quantize_table): one line per layer, `layer_name PRECISION`,
// `#` comments. bmfleet's sim target supports INT8 and F32 per layer (mixed precision); a layer
// is named by its output tensor, as tpu-mlir names ops by their output location.
import { bmfError } from '../../shared/errors.js';

export const LAYER_PRECISIONS = ['INT8', 'F32'] as const;
export type LayerPrecision = (typeof LAYER_PRECISIONS)[number];

export function formatQuantizeTable(
  precisions: ReadonlyMap<string, LayerPrecision>,
  comment: readonly string[] = [],
): string {
  const lines = [
    '# bmfleet quantize table (tpu-mlir --quantize_table format): layer_name INT8|F32',
    ...comment.map((c) => `# ${c}`),
    ...[...precisions].map(([name, p]) => `${name} ${p}`),
  ];
  return `${lines.join('\n')}\n`;
}

function fail(line: number, reason: string): never {
  throw bmfError('BMF_ERR_QUANTIZE_TABLE', { line, reason });
}

export function parseQuantizeTable(
  text: string,
  knownLayers: ReadonlySet<string>,
): Map<string, LayerPrecision> {
  const out = new Map<string, LayerPrecision>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const s = raw.trim();
    if (s === '' || s.startsWith('#')) return;
    const f = s.split(/\s+/);
    if (f.length !== 2) fail(line, `expected "layer_name INT8|F32", got "${s}"`);
    const [name, precision] = f as [string, string];
    if (!(LAYER_PRECISIONS as readonly string[]).includes(precision)) {
      fail(line, `precision ${precision} for ${name}: expected ${LAYER_PRECISIONS.join(' or ')}`);
    }
    if (!knownLayers.has(name)) fail(line, `layer ${name} is not a layer of this model`);
    if (out.has(name)) fail(line, `layer ${name} listed twice`);
    out.set(name, precision as LayerPrecision);
  });
  return out;
}
