// The golden set a bundle carries: a few labelled images preprocessed exactly as the device will
// preprocess them (shared/preprocess), and the outputs this very BMODEL produced for them on the
// host. The agent's activation gate replays them (agent/serve/golden-file.ts reads this format).
import { readFile } from 'node:fs/promises';
import type { PreprocessSpec } from '../../shared/preprocess/index.js';
import { preprocessImage } from '../../shared/preprocess/index.js';
import type { Tensor } from '../../shared/tensor.js';
import { tensorBytes } from '../../shared/tensor.js';

export interface GoldenImage {
  readonly path: string;
  readonly label?: number;
}

interface TensorJson {
  dtype: string;
  shape: number[];
  data: string;
}

export interface GoldenSetJson {
  inputs: Record<string, TensorJson>[];
  labels?: number[];
  referenceOutputs?: Record<string, TensorJson>[];
}

export interface GoldenSummary {
  readonly count: number;
  /** Top-1 accuracy of this model on the golden images, when they are labelled. */
  readonly accuracy: number | undefined;
}

type Run = (feeds: Record<string, Tensor>) => Promise<Record<string, Tensor>>;

const toJson = (t: Tensor): TensorJson => ({
  dtype: t.dtype,
  shape: [...t.shape],
  data: Buffer.from(tensorBytes(t)).toString('base64'),
});

function argmax(data: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < data.length; i++) if ((data[i] as number) > (data[best] as number)) best = i;
  return best;
}

/** Build the golden set; `run` executes the model the bundle ships (undefined for vendor BMODELs). */
export async function buildGoldenSet(
  images: readonly GoldenImage[],
  inputName: string,
  spec: PreprocessSpec,
  run: Run | undefined,
): Promise<{ json: GoldenSetJson; summary: GoldenSummary }> {
  const inputs: Record<string, TensorJson>[] = [];
  const referenceOutputs: Record<string, TensorJson>[] = [];
  const labels: number[] = [];
  let correct = 0;
  for (const img of images) {
    const tensor = await preprocessImage(await readFile(img.path), spec);
    inputs.push({ [inputName]: toJson(tensor) });
    if (img.label !== undefined) labels.push(img.label);
    if (run) {
      const outputs = await run({ [inputName]: tensor });
      referenceOutputs.push(
        Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, toJson(v)])),
      );
      const first = Object.values(outputs)[0];
      if (
        first &&
        img.label !== undefined &&
        argmax(first.data as ArrayLike<number>) === img.label
      ) {
        correct += 1;
      }
    }
  }
  const labelled = labels.length === images.length && images.length > 0;
  return {
    json: {
      inputs,
      ...(labelled ? { labels } : {}),
      ...(run ? { referenceOutputs } : {}),
    },
    summary: {
      count: images.length,
      accuracy: run && labelled ? correct / images.length : undefined,
    },
  };
}
