// Flag parsing shared by every command: node:util parseArgs, with any parse failure turned into
// BMF_ERR_USAGE carrying the command's usage text.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { bmfError } from '../shared/errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<const O extends Options, const P extends boolean = true>(
  argv: readonly string[],
  options: O,
  usage: string,
  allowPositionals: P = true as P,
) {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals, strict: true });
  } catch (e) {
    throw bmfError('BMF_ERR_USAGE', { reason: `${(e as Error).message}\n${usage}` });
  }
}

/** What a numeric flag accepts besides being a finite number. */
export interface NumberRange {
  readonly integer?: boolean;
  readonly min?: number;
  readonly max?: number;
}

function describeRange(r: NumberRange): string {
  const kind = r.integer ? 'a whole number' : 'a number';
  if (r.min !== undefined && r.max !== undefined) return `${kind} from ${r.min} to ${r.max}`;
  if (r.min !== undefined) return `${kind} of at least ${r.min}`;
  if (r.max !== undefined) return `${kind} of at most ${r.max}`;
  return kind;
}

/**
 * A numeric flag's value: undefined when the flag is absent, BMF_ERR_USAGE naming the flag and
 * what it takes when it is not a finite number in `range` (an empty value included: `Number('')`
 * would read it as 0).
 */
export function numberFlag(flag: string, raw: string, range?: NumberRange): number;
export function numberFlag(
  flag: string,
  raw: string | undefined,
  range?: NumberRange,
): number | undefined;
export function numberFlag(
  flag: string,
  raw: string | undefined,
  range: NumberRange = {},
): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  const ok =
    raw.trim() !== '' &&
    Number.isFinite(n) &&
    (!range.integer || Number.isSafeInteger(n)) &&
    (range.min === undefined || n >= range.min) &&
    (range.max === undefined || n <= range.max);
  if (!ok) {
    throw bmfError('BMF_ERR_USAGE', {
      reason: `--${flag} takes ${describeRange(range)}, got "${raw}"`,
    });
  }
  return n;
}
