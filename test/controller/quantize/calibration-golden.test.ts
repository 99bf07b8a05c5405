// Pins the calibration statistics of the Fashion-MNIST sample: every tensor's range, a digest of
// its 2048-bin histogram and the table row of every threshold method, for the 200 calibration
// images, and which measured tensor each one takes its statistics from (propagate.ts).
// Calibration speed-ups (batching, output layout, threading) must not change a single count. Regenerate only on purpose (a deliberate change of the statistics):
//   BMFLEET_UPDATE_GOLDEN=1 npx tap test/controller/quantize/calibration-golden.test.ts
import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  calibrationEntries,
  collectActivationStats,
} from '../../../controller/quantize/calibrate.js';
import type { ActivationStats } from '../../../controller/quantize/calibrate.js';
import { loadPreprocessSpecFile } from '../../../controller/quantize/cli-files.js';
import { readDataset } from '../../../controller/quantize/dataset.js';
import { loadDatasetInputs } from '../../../controller/quantize/inputs.js';
import { prepareModel } from '../../../controller/quantize/prepared-model.js';
import { THRESHOLD_METHODS } from '../../../controller/quantize/thresholds.js';

const DIR = new URL('../../../examples/fashion-mnist/', import.meta.url).pathname;
const MODEL = join(DIR, 'model.onnx');
const GOLDEN = new URL('../../fixtures/quantize/fashion-mnist-calibration.json', import.meta.url);

interface GoldenTensor {
  name: string;
  source: string;
  min: number;
  max: number;
  absMax: number;
  samples: number;
  countsSha256: string;
  thresholds: Record<string, number>;
}

function summarise(stats: ReadonlyMap<string, ActivationStats>): GoldenTensor[] {
  const byMethod = new Map(
    THRESHOLD_METHODS.map((m) => [
      m,
      new Map(calibrationEntries(stats, m).map((e) => [e.name, e])),
    ]),
  );
  return [...stats.values()].map((s) => ({
    name: s.name,
    source: s.source,
    min: s.range.min,
    max: s.range.max,
    absMax: s.range.absMax,
    samples: s.histogram.counts.reduce((a, b) => a + b, 0),
    countsSha256: createHash('sha256')
      .update(new Uint8Array(s.histogram.counts.buffer))
      .digest('hex'),
    thresholds: Object.fromEntries(
      THRESHOLD_METHODS.map((m) => [m, byMethod.get(m)!.get(s.name)!.threshold]),
    ),
  }));
}

if (!existsSync(MODEL)) {
  t.fail(`${MODEL} is missing: run examples/fashion-mnist/train.py`);
} else {
  const pm = await prepareModel(await readFile(MODEL), MODEL);
  const spec = await loadPreprocessSpecFile(undefined, MODEL);
  const set = await readDataset(join(DIR, 'calibration'), 'calibration');
  const inputs = (await loadDatasetInputs(set, spec)).map((x) => x.tensor);

  if (process.env.BMFLEET_UPDATE_GOLDEN === '1') {
    const got = summarise(await collectActivationStats(pm, inputs));
    writeFileSync(GOLDEN, `${JSON.stringify({ images: inputs.length, tensors: got }, null, 2)}\n`);
    t.pass(`golden rewritten: ${GOLDEN.pathname}`);
  } else {
    const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as {
      images: number;
      tensors: GoldenTensor[];
    };
    t.equal(inputs.length, golden.images, 'the committed calibration set is unchanged');
    // Every path the statistics can take: default, one image per call, no activation cache (the
    // second pass runs inference again), onnxruntime's multi-threaded kernels.
    const variants = {
      default: {},
      'one image per call': { batch: 1 },
      'no activation cache': { cacheBudgetBytes: 0 },
      'two onnxruntime intra-op threads': { intraOpThreads: 2 },
    };
    for (const [label, options] of Object.entries(variants)) {
      t.test(label, async (t) => {
        const got = summarise(await collectActivationStats(pm, inputs, options));
        t.same(
          got.map((g) => g.name),
          golden.tensors.map((g) => g.name),
          'same tensors in the same order',
        );
        for (const [k, want] of golden.tensors.entries()) {
          t.strictSame(got[k], want, `${want.name}: range, histogram and thresholds unchanged`);
        }
      });
    }
  }
}
