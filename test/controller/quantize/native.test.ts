// The native kernels (native/histogram.cc) count exactly what the JavaScript ones count. CI
// builds the addon (`npm run build:native`) before the tests; without it this file says so.
import t from 'tap';
import {
  countBins,
  emptyRange,
  HISTOGRAM_LANES,
  updateRange,
} from '../../../controller/quantize/histogram.js';
import { nativeKernels } from '../../../controller/quantize/native.js';
import { seeded } from './toy-model.js';

const kernels = nativeKernels();
if (!kernels) {
  t.test(
    'native kernels count like the JavaScript ones',
    {
      skip: 'native addon not built (npm run build:native): JavaScript kernels only',
    },
    () => undefined,
  );
} else {
  const native = kernels;
  const rnd = seeded(21);
  const cases: [string, Float32Array][] = [
    ['empty', new Float32Array(0)],
    ['one value', Float32Array.of(-2.5)],
    [
      'post-ReLU: zero runs and a tail',
      Float32Array.from({ length: 10_001 }, (_, i) => (i % 3 === 0 ? 0 : Math.exp(rnd() * 6))),
    ],
    ['signed, odd length', Float32Array.from({ length: 4097 }, () => rnd() * 20)],
    ['NaN and values at the top', Float32Array.of(NaN, 8, -8, 7.9999, NaN, 0, 1e-30)],
  ];
  for (const [name, data] of cases) {
    t.test(name, async (t) => {
      for (const [absMax, bins] of [
        [8, 2048],
        [1, 16],
      ] as const) {
        const inv = bins / absMax;
        const js = new Uint32Array(bins * HISTOGRAM_LANES);
        const nat = new Uint32Array(bins * HISTOGRAM_LANES);
        countBins(js, data, inv, bins - 1);
        native.countBins(nat, data, inv, bins - 1);
        t.same(Array.from(nat), Array.from(js), `bins ${bins}, absMax ${absMax}`);
      }
      const r = emptyRange();
      updateRange(r, data);
      const [min, max] = native.minMax(data);
      t.same([min, max], [r.min, r.max], 'min and max, NaN skipped');
    });
  }
  t.test('bad arguments are TypeErrors, never a crash', async (t) => {
    const lanes = new Uint32Array(8);
    t.throws(
      () => native.countBins(lanes, new Float32Array(4), 1, 4),
      TypeError,
      'lanes too short',
    );
    t.throws(
      () =>
        native.countBins(new Uint32Array(8), new Float64Array(4) as unknown as Float32Array, 1, 3),
      TypeError,
    );
    t.throws(() => native.minMax([1, 2] as unknown as Float32Array), TypeError);
  });
}
