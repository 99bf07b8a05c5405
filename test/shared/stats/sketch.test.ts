import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  LatencySketch,
  mergeSketches,
  SKETCH_RELATIVE_ACCURACY,
} from '../../../shared/stats/sketch.js';
import { createWireSchema } from '../../../shared/wire/schema.js';
import type { LatencySketchMessage } from '../../../shared/wire/messages.js';
import { gaussian, seededRandom } from '../../../shared/stats/seeded-random.js';
import { codeOf } from '../../../harness/errors.js';

const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/stats/hostile-sketches.json', import.meta.url), 'utf8'),
) as {
  valid: LatencySketchMessage;
  hostile: { why: string; set: Partial<LatencySketchMessage> }[];
};

const distributions: Record<string, (rand: () => number) => number> = {
  uniform: (r) => 1 + 99 * r(),
  lognormal: (r) => Math.exp(3 + 0.8 * gaussian(r)),
  bimodal: (r) => (r() < 0.7 ? Math.abs(5 + 0.5 * gaussian(r)) : Math.abs(80 + 8 * gaussian(r))),
  'sub-ms with zeros': (r) => (r() < 0.05 ? 0 : 0.05 + r()),
};
const QUANTILES = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

t.test('quantiles within 1% of exact sorted data', async (t) => {
  let worst = 0;
  for (const [name, draw] of Object.entries(distributions)) {
    const rand = seededRandom(42);
    const values = Array.from({ length: 20_000 }, () => draw(rand));
    const sketch = new LatencySketch();
    for (const v of values) sketch.add(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of QUANTILES) {
      const exact = sorted[Math.floor(q * (sorted.length - 1))]!;
      const est = sketch.quantile(q);
      const rel = exact === 0 ? Math.abs(est) : Math.abs(est - exact) / exact;
      worst = Math.max(worst, rel);
      t.ok(rel <= 0.01, `${name} q=${q}: ${est} vs ${exact} (${(rel * 100).toFixed(3)} %)`);
    }
    t.equal(sketch.count, values.length, `${name} count`);
    t.equal(sketch.min, sorted[0], `${name} min exact`);
    t.equal(sketch.max, sorted[sorted.length - 1], `${name} max exact`);
    t.ok(Math.abs(sketch.sum - values.reduce((a, b) => a + b, 0)) < 1e-6 * sketch.sum, 'sum');
  }
  t.comment(
    `worst relative error ${(worst * 100).toFixed(3)} % (alpha ${SKETCH_RELATIVE_ACCURACY})`,
  );
  t.ok(worst <= SKETCH_RELATIVE_ACCURACY + 1e-9, 'within the configured relative accuracy');
});

t.test('merging 50 device sketches equals the sketch of the union', async (t) => {
  const rand = seededRandom(7);
  const union = new LatencySketch();
  const devices: LatencySketch[] = [];
  for (let d = 0; d < 50; d++) {
    const s = new LatencySketch();
    // Each device has its own latency level; values near 1 ms exercise bin key 0.
    const level = 0.5 + d * 0.7;
    for (let i = 0; i < 400; i++) {
      const v = i % 97 === 0 ? 0 : level * Math.exp(0.3 * gaussian(rand));
      s.add(v);
      union.add(v);
    }
    devices.push(s);
  }
  const merged = mergeSketches(devices);
  const a = merged.toMessage();
  const b = union.toMessage();
  t.same({ ...a, sum: 0 }, { ...b, sum: 0 }, 'same bins, counts, min and max');
  t.ok(Math.abs(a.sum - b.sum) <= 1e-9 * b.sum, 'same sum up to float rounding');
  for (const q of QUANTILES) t.equal(merged.quantile(q), union.quantile(q), `q=${q}`);
  t.equal(devices[0]!.count, 400, 'inputs are unchanged by the merge');
  // Merging an empty sketch is a no-op; merging into an empty one copies.
  const before = merged.toMessage();
  merged.merge(new LatencySketch());
  t.same(merged.toMessage(), before);
});

t.test('encode / decode round trip', async (t) => {
  const rand = seededRandom(3);
  const s = new LatencySketch();
  for (let i = 0; i < 5000; i++) s.add(Math.exp(2 + gaussian(rand)));
  s.add(0);
  const bytes = s.encode();
  const back = LatencySketch.decode(bytes);
  t.same(back.toMessage(), s.toMessage());
  for (const q of QUANTILES) t.equal(back.quantile(q), s.quantile(q), `q=${q}`);
  t.comment(`5,001 values encode to ${bytes.length} bytes`);
  const empty = LatencySketch.decode(new LatencySketch().encode());
  t.equal(empty.count, 0);
  t.ok(Number.isNaN(empty.quantile(0.5)), 'empty sketch quantile is NaN');
  t.ok(Number.isNaN(empty.min), 'empty sketch min is NaN');
  t.same(LatencySketch.fromMessage(fixture.valid).toMessage(), fixture.valid, 'fixture message');
});

t.test('hostile sketches give BMF_ERR_STATS_SKETCH', async (t) => {
  const type = createWireSchema().type('LatencySketch');
  for (const c of fixture.hostile) {
    const m = { ...fixture.valid, ...c.set };
    const raw = type.encode(type.fromObject(m)).finish();
    t.equal(
      codeOf(() => LatencySketch.decode(raw)),
      'BMF_ERR_STATS_SKETCH',
      `decode: ${c.why}`,
    );
    t.equal(
      codeOf(() => LatencySketch.fromMessage(m)),
      'BMF_ERR_STATS_SKETCH',
      `message: ${c.why}`,
    );
  }
  const garbage = [Uint8Array.from([0x22, 0xff, 0xff, 0xff, 0x0f]), new Uint8Array(200 * 1024)];
  for (const g of garbage)
    t.equal(
      codeOf(() => LatencySketch.decode(g)),
      'BMF_ERR_STATS_SKETCH',
    );
  const s = new LatencySketch();
  for (const bad of [-1, NaN, Infinity])
    t.equal(
      codeOf(() => s.add(bad)),
      'BMF_ERR_STATS_SKETCH',
    );
  t.equal(
    codeOf(() => s.quantile(1.5)),
    'BMF_ERR_STATS_SKETCH',
  );
  t.equal(s.count, 0, 'rejected values are not counted');
});
