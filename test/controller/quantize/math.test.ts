import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  activationScale,
  quantizeBias,
  quantizeMultiplier,
  quantizeWeightsPerChannel,
  requantize,
  roundHalfAwayFromZero,
} from '../../../controller/quantize/quant-math.js';
import {
  createHistogram,
  emptyRange,
  updateHistogram,
  updateRange,
} from '../../../controller/quantize/histogram.js';
import {
  klDivergenceDirect,
  klReferenceCounts,
  thresholdFor,
  thresholdKl,
  thresholdMse,
  type ThresholdMethod,
} from '../../../controller/quantize/thresholds.js';
import { seeded } from './toy-model.js';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../fixtures/quantize/${name}`, import.meta.url), 'utf8'));

interface RequantGolden {
  requantize: { acc: number; multiplier: number; shift: number; expect: number; why: string }[];
  multipliers: { real: number; multiplier: number; shift: number }[];
}
const golden = fixture('requantize-golden.json') as RequantGolden;

t.test('requantize is bit-exact on golden cases', async (t) => {
  for (const c of golden.requantize) {
    t.equal(requantize(c.acc, { multiplier: c.multiplier, shift: c.shift }), c.expect, c.why);
  }
});

t.test('quantizeMultiplier gives a 31-bit mantissa and shift', async (t) => {
  for (const c of golden.multipliers) {
    t.same(quantizeMultiplier(c.real), { multiplier: c.multiplier, shift: c.shift }, `${c.real}`);
  }
});

t.test('round half away from zero', async (t) => {
  t.same([2.5, -2.5, 0.5, -0.5, 1.49, -1.51].map(roundHalfAwayFromZero), [3, -3, 1, -1, 1, -2]);
});

t.test('weights per output channel, bias int32 with s_in*s_w', async (t) => {
  // Channel 0 max |w| = 1.27 -> scale 0.01; channel 1 max 0.254 -> scale 0.002.
  const w = Float32Array.from([1.27, -0.635, 0.254, 0.1]);
  const q = quantizeWeightsPerChannel(w, [2, 1, 1, 2], 0);
  t.same(Array.from(q.data), [127, -64, 127, 50]);
  t.ok(Math.abs(q.scales[0]! - 0.01) < 1e-7 && Math.abs(q.scales[1]! - 0.002) < 1e-7);
  // Gemm with transB=0: weight [K=2, N=2], output channel is axis 1.
  const g = quantizeWeightsPerChannel(Float32Array.from([1.27, 0.254, -0.635, 0.1]), [2, 2], 1);
  t.same(Array.from(g.data), [127, 127, -64, 50]);
  const b = quantizeBias(Float32Array.from([0.5, -0.01]), 0.05, q.scales);
  t.same(Array.from(b.data), [1000, -100]);
  t.equal(activationScale(12.8), 0.1);
});

interface ThresholdCase {
  name: string;
  method: ThresholdMethod;
  absMax: number;
  bins: [number, number][];
  uniform?: [number, number, number];
  decay?: [number, number];
  expect: [number, number];
}

t.test('threshold methods on golden histograms', async (t) => {
  const { cases } = fixture('thresholds-golden.json') as { cases: ThresholdCase[] };
  for (const c of cases) {
    const h = createHistogram(c.absMax);
    if (c.uniform) for (let b = c.uniform[0]; b < c.uniform[1]; b++) h.counts[b] = c.uniform[2];
    if (c.decay) {
      const [peak, tau] = c.decay;
      for (let b = 0; b < h.counts.length; b++) h.counts[b] = Math.floor(peak * Math.exp(-b / tau));
    }
    for (const [b, n] of c.bins) h.counts[b] = h.counts[b]! + n;
    const th = thresholdFor(c.method, h);
    t.ok(th >= c.expect[0] && th <= c.expect[1], `${c.name}: ${th} in [${c.expect.join(', ')}]`);
  }
});

t.test('range and histogram passes', async (t) => {
  const r = emptyRange();
  updateRange(r, [0.5, -3, 2]);
  updateRange(r, [1]);
  t.same(r, { min: -3, max: 2, absMax: 3 });
  const h = createHistogram(r.absMax, 4);
  updateHistogram(h, Float32Array.of(0.1, -0.8, 1.6, -3, 3));
  t.same(Array.from(h.counts), [1, 1, 1, 2], '|x| = absMax lands in the last bin');
});

t.test('the histogram kernel counts what floor(|x| * bins / absMax) says', async (t) => {
  const rnd = seeded(9);
  // Odd and even lengths, runs of zeros (post-ReLU), negatives, values at and near absMax.
  for (const n of [0, 1, 2, 3, 17, 4096, 4097]) {
    const data = Float32Array.from({ length: n }, (_, i) =>
      i % 5 === 0 ? 0 : i % 7 === 0 ? -6 : rnd() * 12,
    );
    const absMax = 6;
    const h = createHistogram(absMax);
    updateHistogram(h, data);
    const want = new Float64Array(h.counts.length);
    for (const v of data) {
      want[Math.min(Math.floor((Math.abs(v) * h.counts.length) / absMax), h.counts.length - 1)]! +=
        1;
    }
    t.same(Array.from(h.counts), Array.from(want), `${n} values`);
  }
});

t.test('fast KL and MSE searches match their O(n^2) definitions', async (t) => {
  const rnd = seeded(3);
  for (let k = 0; k < 3; k++) {
    const h = createHistogram(10);
    // A decaying body with random gaps and a sparse far tail, like a post-ReLU activation.
    for (let b = 0; b < h.counts.length; b++) {
      const body = Math.floor(5000 * Math.exp(-b / (60 + 80 * k)) * (rnd() + 0.5));
      h.counts[b] = rnd() < 0.1 ? 0 : body;
    }
    h.counts[2000 - k * 300] = 3;
    let bestI = 0;
    let bestKl = Infinity;
    for (let i = 128; i <= h.counts.length; i++) {
      const kl = klDivergenceDirect(klReferenceCounts(h.counts), i);
      if (kl < bestKl) {
        bestKl = kl;
        bestI = i;
      }
    }
    t.ok(Math.abs(thresholdKl(h) - bestI * h.binWidth) < 1e-9, `KL case ${k}: bin ${bestI}`);
    let bestM = 0;
    let bestErr = Infinity;
    for (let i = 128; i <= h.counts.length; i++) {
      const s = (i * h.binWidth) / 128;
      let err = 0;
      h.counts.forEach((c, b) => {
        const x = (b + 0.5) * h.binWidth;
        err += x <= 127 * s ? (c * s * s) / 12 : c * (x - 127 * s) ** 2;
      });
      if (err < bestErr) {
        bestErr = err;
        bestM = i;
      }
    }
    t.ok(Math.abs(thresholdMse(h) - bestM * h.binWidth) < 1e-9, `MSE case ${k}: bin ${bestM}`);
  }
});
