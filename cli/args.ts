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

/**
 * A numeric flag's value: undefined when the flag is absent, BMF_ERR_USAGE when it is not a finite
 * number (an empty value included: `Number('')` would read it as 0).
 */
export function numberFlag(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n))
    throw bmfError('BMF_ERR_USAGE', { reason: `--${flag}: not a number: ${raw}` });
  return n;
}
