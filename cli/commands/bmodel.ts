// `bmfleet bmodel inspect FILE [--json]`: what the vendor model tool's `--info` prints.
import { bmfError } from '../../shared/errors.js';
import { bmodelInfoJson, formatBmodelInfo, readBmodelFile } from '../../shared/bmodel/index.js';
import { parseCommandArgs } from '../args.js';
import type { CommandRun } from '../main.js';

export const USAGE = 'bmfleet bmodel inspect FILE [--json]';

export const run: CommandRun = async (ctx) => {
  const [sub, ...rest] = ctx.argv;
  if (sub !== 'inspect') throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
  const parsed = parseCommandArgs(rest, { json: { type: 'boolean', default: false } }, USAGE);
  const [file, ...extra] = parsed.positionals;
  if (!file || extra.length > 0) throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
  const model = await readBmodelFile(file);
  ctx.stdout.write(
    parsed.values.json
      ? `${JSON.stringify(bmodelInfoJson(model), null, 2)}\n`
      : formatBmodelInfo(model),
  );
  return 0;
};
