// Pins the calibration statistics of the Fashion-MNIST sample: every tensor's range, its 2048-bin
// histogram and the table row of every threshold method, for the 200 calibration images, and which
// measured tensor each one takes its statistics from (propagate.ts).
//
// Against the committed golden, within a stated tolerance: onnxruntime picks its float kernels by
// the CPU's vector extensions (AVX-512 and AVX2 machines sum in different orders and widths), so
// an activation may differ in its last bits from one x86-64 machine to another. Measured on this
// model between an AVX-512 host and the same host emulating a Haswell CPU (qemu-x86_64 -cpu
// Haswell, AVX2 only): ranges within 2.1 float32 ulps; at most 12 values (2e-5 of a tensor's)
// changed histogram bin, never more than 1 count per bin; every threshold identical.
// Within one run, every calibration path (batching, no activation cache, threads) must give the
// very same counts as the default one: speed-ups must not change a single count.
// Regenerate the golden only on purpose (a deliberate change of the statistics):
import t from 'tap';
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
  /** The histogram's 2048 bin counts, space-separated. */
  counts: string;
  thresholds: Record<string, number>;
}

/** Ranges: relative 2^-20 (16 float32 ulps; 2.1 measured across CPUs). */
const RANGE_RELATIVE = 2 ** -20;
/**
 * Histograms: values that changed bin (half the sum of |count differences|), as a fraction of the
 * tensor's values. A value changes bin only if its rounding difference carries it across a bin
 * edge; 1e-3 is 30 times the 3.5e-5 measured across CPUs and still catches any real change of
 * the statistics (a single shifted bin edge moves far more).
 */
const MOVED_FRACTION = 1e-3;
/** Thresholds are bin edges: at most 2 bin widths apart (identical across CPUs as measured). */
const THRESHOLD_BINS = 2;

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
    counts: Array.from(s.histogram.counts).join(' '),
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
    const withinRange = (got: number, want: number) =>
      Math.abs(got - want) <= RANGE_RELATIVE * Math.max(Math.abs(want), Number.MIN_VALUE);

    const reference = summarise(await collectActivationStats(pm, inputs));
    t.test('default path: the golden statistics, within the stated tolerance', async (t) => {
      t.same(
        reference.map((g) => g.name),
        golden.tensors.map((g) => g.name),
        'same tensors in the same order',
      );
      for (const [k, want] of golden.tensors.entries()) {
        const got = reference[k]!;
        t.equal(got.source, want.source, `${want.name}: statistics from ${want.source}`);
        t.equal(got.samples, want.samples, `${want.name}: every value counted`);
        for (const key of ['min', 'max', 'absMax'] as const)
          t.ok(withinRange(got[key], want[key]), `${want.name}: ${key} ${got[key]} ~ ${want[key]}`);
        const a = got.counts.split(' ').map(Number);
        const b = want.counts.split(' ').map(Number);
        t.equal(a.length, b.length, `${want.name}: ${b.length} bins`);
        const moved = a.reduce((sum, c, i) => sum + Math.abs(c - b[i]!), 0) / 2;
        t.ok(
          moved <= MOVED_FRACTION * want.samples,
          `${want.name}: ${moved} of ${want.samples} values changed bin (<= ${MOVED_FRACTION})`,
        );
        const binWidth = want.absMax / 2048;
        for (const [method, th] of Object.entries(want.thresholds)) {
          const d = Math.abs(got.thresholds[method]! - th);
          t.ok(
            d <= THRESHOLD_BINS * binWidth + RANGE_RELATIVE * th,
            `${want.name}: ${method} threshold ${got.thresholds[method]} ~ ${th}`,
          );
        }
      }
    });
    // Every other path the statistics can take: one image per call, no activation cache (the
    // second pass runs inference again), a cache for about half the images (the rest run again),
    // one or two onnxruntime intra-op threads. Same machine, same kernels: exactly the default
    // path's statistics.
    const imageBytes = pm.calibrated.reduce((a, n) => a + pm.activationSizes.get(n)!, 0) * 4;
    const variants = {
      'one image per call': { batch: 1 },
      'no activation cache': { cacheBudgetBytes: 0 },
      'activation cache for half the images': {
        cacheBudgetBytes: Math.floor((imageBytes * inputs.length) / 2),
      },
      'one onnxruntime intra-op thread': { intraOpThreads: 1 },
      'two onnxruntime intra-op threads': { intraOpThreads: 2 },
    };
    for (const [label, options] of Object.entries(variants)) {
      t.test(label, async (t) => {
        const got = summarise(await collectActivationStats(pm, inputs, options));
        t.same(
          got.map((g) => g.name),
          reference.map((g) => g.name),
          'same tensors in the same order',
        );
        for (const [k, want] of reference.entries()) {
          t.strictSame(got[k], want, `${want.name}: range, histogram and thresholds as by default`);
        }
      });
    }
  }
}
