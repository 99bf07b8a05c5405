// Demo step: traffic for the experiment. Every agent serves requests made from the labelled
// evaluation images through its in-process inference API (the same service its local HTTP API
// fronts) and receives ground-truth feedback for each answer, as a line operator's app would.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Agent } from '../agent/agent.js';
import { readBoxDataset } from '../controller/quantize/box-dataset.js';

export interface LabelledImage {
  readonly bytes: Uint8Array;
  readonly label: number;
  /** Detectors: ground-truth boxes (source pixels), sent as box feedback instead of a label. */
  readonly boxes?: readonly {
    readonly box: readonly [number, number, number, number];
    readonly classId: number;
  }[];
}

/** The shapes detector's boxed eval images. */
export async function readBoxedImages(exampleDir: string): Promise<LabelledImage[]> {
  const out: LabelledImage[] = [];
  for (const item of await readBoxDataset(join(exampleDir, 'eval'), 'eval')) {
    out.push({ bytes: await readFile(item.path), label: -1, boxes: item.image.boxes });
  }
  return out;
}

export async function readEvalImages(exampleDir: string): Promise<LabelledImage[]> {
  const out: LabelledImage[] = [];
  for (let label = 0; label < 10; label++) {
    const dir = join(exampleDir, 'eval', String(label));
    for (const f of (await readdir(dir)).sort()) {
      out.push({ bytes: await readFile(join(dir, f)), label });
    }
  }
  return out;
}

export interface LoadResult {
  readonly requests: number;
  readonly failed: number;
  readonly byVariant: Record<string, number>;
  readonly correct: Record<string, number>;
}

/** Drive `agents` until `until()` is true or the signal aborts; `perAgentRps` requests/s each. */
export async function generateLoad(opts: {
  readonly agents: readonly Agent[];
  readonly images: readonly LabelledImage[];
  readonly perAgentRps: number;
  readonly signal: AbortSignal;
  readonly until: () => boolean;
}): Promise<LoadResult> {
  const result = {
    requests: 0,
    failed: 0,
    byVariant: {} as Record<string, number>,
    correct: {} as Record<string, number>,
  };
  let cursor = 0;
  const gapMs = 1000 / opts.perAgentRps;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await Promise.all(
    opts.agents.map(async (agent, k) => {
      await sleep((k * gapMs) / opts.agents.length);
      while (!opts.signal.aborted && !opts.until()) {
        const started = performance.now();
        const img = opts.images[cursor++ % opts.images.length] as LabelledImage;
        try {
          const res = await agent.service.infer(
            { kind: 'image', bytes: img.bytes },
            { requestKey: `camera-${cursor % 97}` },
          );
          const correct = img.boxes
            ? agent.service.feedbackBoxes(res.requestId, img.boxes).fn === 0
            : agent.service.feedback(res.requestId, img.label).correct;
          result.requests += 1;
          result.byVariant[res.variant] = (result.byVariant[res.variant] ?? 0) + 1;
          if (correct) result.correct[res.variant] = (result.correct[res.variant] ?? 0) + 1;
        } catch {
          result.failed += 1;
        }
        await sleep(Math.max(0, gapMs - (performance.now() - started)));
      }
    }),
  );
  return result;
}
