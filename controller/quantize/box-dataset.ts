// Detection data sets for evaluation and golden sets: a folder of images with their ground-truth
// boxes, either a YOLO txt file beside each image (`0001.jpg` + `0001.txt`; no txt file means no
// objects, as ultralytics reads it) or one COCO JSON file (`--boxes`) naming the images by file
// name. The boxes come back in source-image pixels (shared/detect/labels.ts).
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import sharp from 'sharp';
import { parseCocoBoxes, parseYoloLabels, type LabelledImage } from '../../shared/detect/index.js';
import { bmfError } from '../../shared/errors.js';
import { dataErrorCode, readDataset, type DatasetPurpose } from './dataset.js';

export interface BoxItem {
  readonly path: string;
  readonly image: LabelledImage;
}

async function imageSize(path: string, purpose: DatasetPurpose): Promise<[number, number]> {
  try {
    const m = await sharp(path).metadata();
    if (!m.width || !m.height) throw new Error('no size in the image header');
    return [m.width, m.height];
  } catch (e) {
    throw bmfError(dataErrorCode(purpose), { path, reason: (e as Error).message }, { cause: e });
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw bmfError('BMF_ERR_IO', { path, reason: (e as Error).message }, { cause: e });
  }
}

/** Images of `dir` (sorted) with their boxes, from `cocoPath` or from YOLO txt files beside them. */
export async function readBoxDataset(
  dir: string,
  purpose: DatasetPurpose,
  cocoPath?: string,
): Promise<BoxItem[]> {
  const ds = await readDataset(dir, purpose);
  let coco: Map<string, LabelledImage> | undefined;
  if (cocoPath !== undefined) {
    const text = await readText(cocoPath);
    if (text === undefined) throw bmfError('BMF_ERR_IO', { path: cocoPath, reason: 'not found' });
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw bmfError('BMF_ERR_DETECTION_DATA', { field: cocoPath, reason: (e as Error).message });
    }
    coco = parseCocoBoxes(json, cocoPath);
  }
  const out: BoxItem[] = [];
  for (const item of ds.items) {
    const [width, height] = await imageSize(item.path, purpose);
    if (coco) {
      const img = coco.get(basename(item.path));
      if (!img) {
        throw bmfError('BMF_ERR_DETECTION_DATA', {
          field: cocoPath ?? 'coco',
          reason: `no entry for image ${basename(item.path)}`,
        });
      }
      if (img.width !== width || img.height !== height) {
        throw bmfError('BMF_ERR_DETECTION_DATA', {
          field: `${cocoPath ?? 'coco'}: ${basename(item.path)}`,
          reason: `listed as ${img.width}x${img.height}, the file is ${width}x${height}`,
        });
      }
      out.push({ path: item.path, image: img });
      continue;
    }
    const txtPath = item.path.replace(/\.[^.]+$/, '.txt');
    const text = await readText(txtPath);
    out.push({
      path: item.path,
      image: {
        width,
        height,
        boxes: text === undefined ? [] : parseYoloLabels(text, width, height, txtPath),
      },
    });
  }
  return out;
}
