// Ground-truth boxes for detection golden sets and evaluation sets, in the two formats users have:
// - YOLO txt (ultralytics): one file per image, a line `class cx cy w h` with the centre and size
//   normalised to the image (0..1);
// - COCO JSON (cocodataset.org/#format-data): images[] (id, file_name, width, height) and
//   annotations[] (image_id, category_id, bbox [x, y, width, height] in pixels, iscrowd); the
//   category_id is taken as the model's class index.
// Both become LabelledBox lists in source-image pixels (x1, y1, x2, y2), validated here at the edge.
import { bmfError } from '../errors.js';

export interface LabelledBox {
  readonly classId: number;
  /** x1, y1, x2, y2 in source-image pixels. */
  readonly box: readonly [number, number, number, number];
}

export interface LabelledImage {
  readonly width: number;
  readonly height: number;
  readonly boxes: readonly LabelledBox[];
}

function bad(field: string, reason: string): never {
  throw bmfError('BMF_ERR_DETECTION_DATA', { field, reason });
}

const isClass = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0;

/** One YOLO txt label file for an image of this size. */
export function parseYoloLabels(
  text: string,
  width: number,
  height: number,
  where: string,
): LabelledBox[] {
  const out: LabelledBox[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const f = line.split(/\s+/).map(Number);
    if (f.length !== 5 || !f.every(Number.isFinite)) {
      bad(`${where}:${i + 1}`, 'expected "class cx cy w h" (5 numbers)');
    }
    const [c, cx, cy, w, h] = f as [number, number, number, number, number];
    if (!isClass(c)) bad(`${where}:${i + 1}`, `class ${c} is not a non-negative integer`);
    if (w < 0 || h < 0 || w > 1 || h > 1 || cx < 0 || cx > 1 || cy < 0 || cy > 1) {
      bad(`${where}:${i + 1}`, 'centre and size must be normalised to 0..1');
    }
    out.push({
      classId: c,
      box: [
        (cx - w / 2) * width,
        (cy - h / 2) * height,
        (cx + w / 2) * width,
        (cy + h / 2) * height,
      ],
    });
  });
  return out;
}

/** A COCO JSON document -> labelled images by file name (crowd annotations are left out). */
export function parseCocoBoxes(json: unknown, where = 'coco'): Map<string, LabelledImage> {
  if (typeof json !== 'object' || json === null) bad(where, 'expected a JSON object');
  const doc = json as { images?: unknown; annotations?: unknown };
  if (!Array.isArray(doc.images)) bad(`${where}.images`, 'expected an array');
  if (!Array.isArray(doc.annotations)) bad(`${where}.annotations`, 'expected an array');
  const byId = new Map<
    unknown,
    { file: string; width: number; height: number; boxes: LabelledBox[] }
  >();
  doc.images.forEach((im: unknown, i: number) => {
    const x = im as { id?: unknown; file_name?: unknown; width?: unknown; height?: unknown };
    if (typeof x?.file_name !== 'string' || x.file_name === '') {
      bad(`${where}.images[${i}].file_name`, 'expected a file name');
    }
    if (!(Number(x.width) > 0) || !(Number(x.height) > 0)) {
      bad(`${where}.images[${i}]`, 'width and height must be positive');
    }
    if (byId.has(x.id)) bad(`${where}.images[${i}].id`, `duplicate id ${String(x.id)}`);
    byId.set(x.id, {
      file: x.file_name,
      width: Number(x.width),
      height: Number(x.height),
      boxes: [],
    });
  });
  doc.annotations.forEach((an: unknown, i: number) => {
    const a = an as {
      image_id?: unknown;
      category_id?: unknown;
      bbox?: unknown;
      iscrowd?: unknown;
    };
    const img = byId.get(a?.image_id);
    if (!img) bad(`${where}.annotations[${i}].image_id`, `no image ${String(a?.image_id)}`);
    if (!isClass(a.category_id)) {
      bad(`${where}.annotations[${i}].category_id`, 'expected a non-negative integer class index');
    }
    const b = a.bbox;
    if (
      !Array.isArray(b) ||
      b.length !== 4 ||
      !b.every((v) => typeof v === 'number' && Number.isFinite(v)) ||
      (b[2] as number) < 0 ||
      (b[3] as number) < 0
    ) {
      bad(
        `${where}.annotations[${i}].bbox`,
        'expected [x, y, width, height], width and height >= 0',
      );
    }
    if (a.iscrowd === 1 || a.iscrowd === true) return;
    const [x, y, w, h] = b as [number, number, number, number];
    img.boxes.push({ classId: a.category_id, box: [x, y, x + w, y + h] });
  });
  const out = new Map<string, LabelledImage>();
  for (const v of byId.values()) {
    if (out.has(v.file)) bad(`${where}.images`, `file ${v.file} listed twice`);
    out.set(v.file, { width: v.width, height: v.height, boxes: v.boxes });
  }
  return out;
}
