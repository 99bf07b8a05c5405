// `bmfleet preprocess IMAGE --spec spec.json [--out tensor.npy] [--compare reference.npy]`: the
// tensor the agent would feed the model for IMAGE (the same shared/preprocess code), written as
// NumPy .npy for comparison with one's own Python pipeline, and optionally compared with one.
import { readFile, writeFile } from 'node:fs/promises';
import { bmfError } from '../../shared/errors.js';
import { decodeNpy, encodeNpy } from '../../shared/npy.js';
import { compareInLevels } from '../../shared/preprocess/compare.js';
import { parsePreprocessSpec, preprocessImage } from '../../shared/preprocess/index.js';
import { parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';

export const USAGE =
  'bmfleet preprocess IMAGE --spec spec.json [--out tensor.npy] [--compare reference.npy]';

async function readInput(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw bmfError('BMF_ERR_IO', { path, reason: (e as Error).message }, { cause: e });
  }
}

export const run: CommandRun = async (ctx) => {
  const parsed = parseCommandArgs(
    ctx.argv,
    { spec: { type: 'string' }, out: { type: 'string' }, compare: { type: 'string' } },
    USAGE,
  );
  const [image, ...extra] = parsed.positionals;
  const { spec: specPath, out, compare } = parsed.values;
  if (!image || extra.length > 0 || !specPath) throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
  let specJson: unknown;
  try {
    specJson = JSON.parse((await readInput(specPath)).toString('utf8'));
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw bmfError('BMF_ERR_PREPROCESS_SPEC', { field: '(root)', reason: e.message });
    }
    throw e;
  }
  const spec = parsePreprocessSpec(specJson);
  const tensor = await preprocessImage(await readInput(image), spec);
  ctx.stdout.write(
    `tensor ${tensor.dtype} [${tensor.shape.join(', ')}] ${spec.channel_format} ${spec.pixel_format}, ` +
      `interpolation ${spec.interpolation}, color_profile ${spec.color_profile}\n`,
  );
  if (out) {
    try {
      await writeFile(out, encodeNpy(tensor));
    } catch (e) {
      throw bmfError('BMF_ERR_IO', { path: out, reason: (e as Error).message }, { cause: e });
    }
    ctx.stdout.write(`wrote ${out}\n`);
  }
  if (compare) {
    const d = compareInLevels(tensor, decodeNpy(await readInput(compare)), spec);
    ctx.stdout.write(
      `compared with ${compare} (${d.count} values, in input levels 0-255):\n` +
        `  max abs difference   ${d.maxAbs.toFixed(3)}\n` +
        `  mean abs difference  ${d.meanAbs.toFixed(4)}\n` +
        `  off by more than 1   ${(d.offByMoreThanOne * 100).toFixed(2)} %\n`,
    );
  }
  return 0;
};
