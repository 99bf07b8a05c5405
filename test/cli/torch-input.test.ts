// The model given to quantize or umodel export is opened as a regular file only: a FIFO in its
// place is refused with a typed error instead of an open that waits for a writer for good.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { onnxModelInput } from '../../cli/commands/torch-input.js';
import type { CommandContext } from '../../cli/command.js';
import { parsePreprocessSpec } from '../../shared/preprocess/index.js';

const ctx: CommandContext = { argv: [], stdout: process.stdout, stderr: process.stderr, env: {} };
const preprocess = parsePreprocessSpec({ resize_dims: [8, 8] });

/** Settles with the promise's outcome, or 'hung' when it has not settled in `ms`. */
async function settled(p: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise((r) => (timer = setTimeout(() => r('hung'), ms)));
  try {
    return await Promise.race([p.catch((e: unknown) => e), hung]);
  } finally {
    clearTimeout(timer);
  }
}

t.test('a FIFO as the model is refused, not opened for a blocking read', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bmf-model-fifo-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'model.onnx');
  execFileSync('mkfifo', [fifo]);
  // Generous: the refusal is immediate; the bound only keeps a regression from hanging CI.
  const outcome = await settled(onnxModelInput(ctx, fifo, undefined, preprocess, dir), 30_000);
  t.not(outcome, 'hung', 'returns');
  t.match(outcome, { code: 'BMF_ERR_BUNDLE_NOT_REGULAR', details: { kind: 'FIFO', path: fifo } });
});

t.test('an ONNX model passes through untouched', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bmf-model-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const model = join(dir, 'model.onnx');
  await writeFile(model, Buffer.from([0x08, 0x07, 0x12, 0x04]));
  t.equal(await onnxModelInput(ctx, model, undefined, preprocess, dir), model);
  const missing = join(dir, 'none.onnx');
  await t.rejects(onnxModelInput(ctx, missing, undefined, preprocess, dir), {
    code: 'BMF_ERR_IO',
    details: { path: missing },
  });
});
