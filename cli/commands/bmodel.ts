// `bmfleet bmodel inspect FILE [--layout old|new] [--json]`: what the vendor's `model_tool --info`
// prints, line for line (shared/bmodel/model-tool.ts; new layout by default).
import { readFile } from 'node:fs/promises';
import { bmfError } from '../../shared/errors.js';
import { bmodelInfoJson, readBmodel } from '../../shared/bmodel/index.js';
import {
  formatModelToolInfo,
  MODEL_TOOL_LAYOUTS,
  modelToolMem,
  type ModelToolLayout,
} from '../../shared/bmodel/model-tool.js';
import { parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';

export const USAGE = 'bmfleet bmodel inspect FILE [--layout old|new] [--json]';

export const run: CommandRun = async (ctx) => {
  const [sub, ...rest] = ctx.argv;
  if (sub !== 'inspect') throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
  const parsed = parseCommandArgs(
    rest,
    { json: { type: 'boolean', default: false }, layout: { type: 'string', default: 'new' } },
    USAGE,
  );
  const [file, ...extra] = parsed.positionals;
  if (!file || extra.length > 0) throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
  const layout = parsed.values.layout as string;
  if (!MODEL_TOOL_LAYOUTS.includes(layout as ModelToolLayout)) {
    throw bmfError('BMF_ERR_USAGE', { reason: `--layout takes old or new, got "${layout}"` });
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw bmfError('BMF_ERR_IO', { path: file, reason: (e as Error).message }, { cause: e });
  }
  const model = readBmodel(bytes);
  ctx.stdout.write(
    parsed.values.json
      ? `${JSON.stringify(
          {
            ...bmodelInfoJson(model),
            modelTool: { layout, memory: modelToolMem(model, layout as ModelToolLayout) },
          },
          null,
          2,
        )}\n`
      : formatModelToolInfo(model, bytes, layout as ModelToolLayout),
  );
  return 0;
};
