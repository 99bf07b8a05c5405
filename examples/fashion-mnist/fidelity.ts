// Top-1 of the Fashion-MNIST model on upscaled eval images through three preprocessings: the
// OpenCV pipeline (tensors from upscaled_opencv.py), bmfleet's default (INTER_LINEAR, OpenCV's
// kernel) and the libvips kernel that was the default before. Prints how many predictions each
// bmfleet mode changes against OpenCV's.
//
//   /usr/bin/python3 examples/fashion-mnist/upscaled_opencv.py /tmp/fm45
//   node --import tsx examples/fashion-mnist/fidelity.ts /tmp/fm45
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodeNpy } from '../../shared/npy.js';
import { parsePreprocessSpec, preprocessImage } from '../../shared/preprocess/index.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: fidelity.ts DIR (written by upscaled_opencv.py)');
const here = new URL('./', import.meta.url);
const list = readFileSync(join(dir, 'list.txt'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => l.split(' ') as [string, string]);
const opencv = decodeNpy(readFileSync(join(dir, 'opencv.npy')));
const base = JSON.parse(readFileSync(new URL('preprocess.json', here), 'utf8')) as object;
const modes = {
  'INTER_LINEAR (default)': parsePreprocessSpec(base),
  'sharp_linear (previous default)': parsePreprocessSpec({ ...base, interpolation: 'bilinear' }),
};
const session = await ort.InferenceSession.create(new URL('model.onnx', here).pathname);
const classify = async (x: Float32Array): Promise<number> => {
  const out = await session.run({ input: new ort.Tensor('float32', x, [1, 1, 28, 28]) });
  const logits = out['logits']!.data as Float32Array;
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
};
const hits: Record<string, number> = { opencv: 0 };
const changed: Record<string, number> = {};
for (const [i, [path, label]] of list.entries()) {
  const ref = await classify(Float32Array.from(opencv.values.subarray(i * 784, (i + 1) * 784)));
  hits['opencv']! += Number(ref === Number(label));
  const bytes = readFileSync(path);
  for (const [name, spec] of Object.entries(modes)) {
    const p = await classify((await preprocessImage(bytes, spec)).data as Float32Array);
    hits[name] = (hits[name] ?? 0) + Number(p === Number(label));
    changed[name] = (changed[name] ?? 0) + Number(p !== ref);
  }
}
await session.release();
const pct = (k: number): string => `${((100 * k) / list.length).toFixed(2)} %`;
console.log(`${list.length} eval images, upscaled with OpenCV, preprocessed to 28x28 grey`);
console.log(`  OpenCV (cv2.imread + cv2.resize)   top-1 ${pct(hits['opencv']!)}`);
for (const name of Object.keys(modes)) {
  console.log(
    `  ${name.padEnd(34)} top-1 ${pct(hits[name]!)}, predictions changed ${pct(changed[name]!)}`,
  );
}
