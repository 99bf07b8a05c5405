// JSON side files the commands read at a flag (a preprocessing spec, a decoder spec): a file that
// cannot be read is BMF_ERR_IO, text that is not JSON is the spec's own error naming the file.
import { readFile } from 'node:fs/promises';
import { bmfError } from '../shared/errors.js';

export async function readJsonFile(
  path: string,
  code: 'BMF_ERR_PREPROCESS_SPEC' | 'BMF_ERR_DECODER_SPEC',
): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw bmfError('BMF_ERR_IO', { path, reason: (e as Error).message }, { cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw bmfError(code, { field: path, reason: `not JSON: ${(e as Error).message}` });
  }
}
