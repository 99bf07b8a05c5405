// Side files the quantize commands read: the PreprocessSpec JSON and labels.txt. When not given,
// both are looked up next to the model (the layout of examples/fashion-mnist).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { bmfError } from '../../shared/errors.js';
import { parsePreprocessSpec, type PreprocessSpec } from '../../shared/preprocess/index.js';
import { parseLabels } from './dataset.js';

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

export async function loadPreprocessSpecFile(
  path: string | undefined,
  modelPath: string,
): Promise<PreprocessSpec> {
  const file = path ?? join(dirname(modelPath), 'preprocess.json');
  const text = await readOptional(file);
  if (text === undefined) {
    throw bmfError(path ? 'BMF_ERR_IO' : 'BMF_ERR_USAGE', {
      path: file,
      reason: path
        ? 'cannot read the preprocessing spec'
        : `--preprocess not given and ${file} not found`,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bmfError('BMF_ERR_PREPROCESS_SPEC', {
      field: '(root)',
      reason: `not JSON: ${(e as Error).message}`,
    });
  }
  return parsePreprocessSpec(json);
}

export async function loadLabelsFile(
  path: string | undefined,
  modelPath: string,
): Promise<string[] | undefined> {
  const file = path ?? join(dirname(modelPath), 'labels.txt');
  const text = await readOptional(file);
  if (text === undefined && path) {
    throw bmfError('BMF_ERR_IO', { path, reason: 'cannot read labels file' });
  }
  return text === undefined ? undefined : parseLabels(text);
}
