// Image folders for calibration and evaluation (docs/architecture.md, controller/quantize):
// `DIR/*.png|jpg` (unlabelled) or `DIR/<class>/*.png|jpg`, class folders named by index
// (`0`, `1`, ...) or by a name listed in labels.txt. Listing is sorted so every run sees the same
// order (calibration statistics and held-out splits are then reproducible).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { bmfError, type ErrorCode } from '../../shared/errors.js';

export type DatasetPurpose = 'calibration' | 'eval';

export interface DatasetItem {
  readonly path: string;
  /** Class index when the folder is labelled. */
  readonly label?: number;
}

export interface Dataset {
  readonly dir: string;
  readonly purpose: DatasetPurpose;
  readonly labelled: boolean;
  readonly items: readonly DatasetItem[];
}

const IMAGE_EXT = /\.(png|jpe?g)$/i;

export function dataErrorCode(purpose: DatasetPurpose): ErrorCode {
  return purpose === 'calibration' ? 'BMF_ERR_CALIBRATION_DATA' : 'BMF_ERR_EVAL_DATA';
}

export function parseLabels(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** The class index a folder name stands for, or undefined when it names no class. */
export function classIndex(
  folder: string,
  labels: readonly string[] | undefined,
): number | undefined {
  if (/^\d+$/.test(folder)) {
    const i = Number(folder);
    return labels && i >= labels.length ? undefined : i;
  }
  const i = labels?.indexOf(folder) ?? -1;
  return i >= 0 ? i : undefined;
}

async function list(dir: string, purpose: DatasetPurpose) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw bmfError(
      dataErrorCode(purpose),
      { path: dir, reason: (e as Error).message },
      { cause: e },
    );
  }
}

const byName = (a: { name: string }, b: { name: string }): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

export async function readDataset(
  dir: string,
  purpose: DatasetPurpose,
  labels?: readonly string[],
): Promise<Dataset> {
  const code = dataErrorCode(purpose);
  const entries = (await list(dir, purpose)).sort(byName);
  const images = entries.filter((e) => e.isFile() && IMAGE_EXT.test(e.name));
  if (images.length > 0) {
    return {
      dir,
      purpose,
      labelled: false,
      items: images.map((e) => ({ path: join(dir, e.name) })),
    };
  }
  const items: DatasetItem[] = [];
  for (const folder of entries.filter((e) => e.isDirectory())) {
    const label = classIndex(folder.name, labels);
    if (label === undefined) {
      throw bmfError(code, {
        path: join(dir, folder.name),
        reason: labels
          ? `class folder "${folder.name}" is neither an index below ${labels.length} nor a name in labels.txt`
          : `class folder "${folder.name}" is not a class index (give labels.txt to use names)`,
      });
    }
    const files = (await list(join(dir, folder.name), purpose)).sort(byName);
    for (const f of files) {
      if (f.isFile() && IMAGE_EXT.test(f.name))
        items.push({ path: join(dir, folder.name, f.name), label });
    }
  }
  if (items.length === 0) {
    throw bmfError(code, {
      path: dir,
      reason: 'no .png/.jpg images, directly or in class folders',
    });
  }
  return { dir, purpose, labelled: true, items };
}
