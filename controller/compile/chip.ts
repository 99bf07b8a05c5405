// Chip names and the float precisions each accepts (docs/vendor.md section 1: BM1684 F32/INT8;
// BM1684X F32/F16/BF16/INT8; BM1688 adds INT4; CV186X is a BM1688-family part). bmfleet spells
// chips in lower case (manifests, CLI); BMODELs and vendor tools use upper case. Precisions are
// accepted in either spelling (fp16 or the vendor's F16).
import { bmfError } from '../../shared/errors.js';
import { CHIPS, type Chip } from '../../shared/bundle/manifest.js';

export const COMPILE_PRECISIONS = ['fp32', 'fp16', 'bf16'] as const;
export type CompilePrecision = (typeof COMPILE_PRECISIONS)[number];

const FLOAT_PRECISIONS: Readonly<Record<Chip, readonly CompilePrecision[]>> = {
  bm1684: ['fp32'],
  bm1684x: ['fp32', 'fp16', 'bf16'],
  bm1688: ['fp32', 'fp16', 'bf16'],
  cv186x: ['fp32', 'fp16', 'bf16'],
};

export function parseChip(name: string): Chip {
  const lower = name.toLowerCase();
  if (!(CHIPS as readonly string[]).includes(lower)) {
    throw bmfError('BMF_ERR_CHIP_UNKNOWN', { chip: name, known: CHIPS.join(', ') });
  }
  return lower as Chip;
}

/** The spelling BMODEL headers and vendor tools use (`BM1684X`). */
export function vendorChipName(chip: Chip): string {
  return chip.toUpperCase();
}

/** model_deploy.py's `--quantize` spellings (docs/vendor.md section 1), read as bmfleet's. */
const VENDOR_PRECISION: Readonly<Record<string, CompilePrecision>> = {
  f32: 'fp32',
  f16: 'fp16',
  bf16: 'bf16',
};

export function parsePrecision(name: string, chip: Chip): CompilePrecision {
  const lower = name.toLowerCase();
  const p = VENDOR_PRECISION[lower] ?? lower;
  if (!(COMPILE_PRECISIONS as readonly string[]).includes(p)) {
    throw bmfError('BMF_ERR_PRECISION_UNSUPPORTED', {
      precision: name,
      chip: `${chip} (compile takes ${COMPILE_PRECISIONS.join('|')}; INT8 comes from bmfleet quantize)`,
    });
  }
  if (!FLOAT_PRECISIONS[chip].includes(p as CompilePrecision)) {
    throw bmfError('BMF_ERR_PRECISION_UNSUPPORTED', { precision: name, chip });
  }
  return p as CompilePrecision;
}
