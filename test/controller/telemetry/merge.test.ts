// Merging reports across devices gives the sketch of the union of their samples.
import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  encodeReport,
  lognormalSamples,
  sketchOf,
} from '../../../harness/controller/telemetry-reports.js';
import { openTelemetry } from './harness.js';

interface MergeCases {
  now: number;
  quantiles: number[];
  devices: {
    deviceId: string;
    medianMs: number;
    sigma: number;
    samples: number;
    reports: number;
  }[];
}
const cases = JSON.parse(
  readFileSync(
    new URL('../../fixtures/controller/telemetry/merge-cases.json', import.meta.url),
    'utf8',
  ),
) as MergeCases;

function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))] ?? NaN;
}

t.test('merged across devices and reports equals the sketch of the union', async (t) => {
  const { service } = openTelemetry(t, cases.now);
  const all: number[] = [];
  let seed = 1;
  for (const d of cases.devices) {
    for (let r = 0; r < d.reports; r++) {
      const e2e = lognormalSamples(d.samples, d.medianMs, d.sigma, seed++);
      const infer = e2e.map((x) => x * 0.7);
      all.push(...e2e);
      const start = cases.now - 300_000 + r * 10_000;
      const bytes = encodeReport({
        deviceId: d.deviceId,
        intervalStartMs: start,
        latency: { e2e, infer },
      });
      t.equal(service.ingest(d.deviceId, bytes), 'accepted');
    }
  }
  const sorted = [...all].sort((a, b) => a - b);
  const union = sketchOf(all);
  const filter = { fromMs: cases.now - 3_600_000, toMs: cases.now };

  const check = async (label: string) => {
    const q = await service.query(filter);
    const e2e = q.latency.e2e;
    if (!e2e) throw new Error('no e2e latency');
    t.equal(q.requests, all.length, `${label}: requests`);
    t.equal(e2e.count, all.length, `${label}: e2e count`);
    t.equal(q.devices, cases.devices.length, `${label}: devices`);
    t.ok(Math.abs(e2e.mean - union.mean) / union.mean < 1e-9, `${label}: mean`);
    const merged = (await service.sketches(filter)).e2e;
    if (!merged) throw new Error('no e2e sketch');
    for (const p of cases.quantiles) {
      const exact = exactQuantile(sorted, p);
      t.ok(
        Math.abs(merged.quantile(p) - exact) / exact <= 0.01,
        `${label}: p${p * 100} ${merged.quantile(p)} within 1% of exact ${exact}`,
      );
      t.equal(
        merged.quantile(p),
        union.quantile(p),
        `${label}: p${p * 100} equals the union sketch`,
      );
    }
    t.equal(q.latency.infer?.count, all.length, `${label}: infer stage merged too`);
  };
  await check('pending (not yet flushed)');
  await service.flush();
  t.equal(service.stats().pendingRows, 0);
  await check('after flush');

  // A second flush of new data merges into the stored rows instead of replacing them.
  const extra = lognormalSamples(100, 5, 0.3, 999);
  service.ingest(
    'dev-1',
    encodeReport({
      deviceId: 'dev-1',
      intervalStartMs: cases.now - 300_000 + 5_000,
      latency: { e2e: extra },
    }),
  );
  await service.flush();
  t.equal(
    (await service.query(filter)).latency.e2e?.count,
    all.length + extra.length,
    'stored row merged',
  );
});
