// Ingestion edge cases: per-minute rollup boundaries, QoS 1 redelivery counted once, malformed
// and out-of-range reports counted and dropped, retention pruning.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { encodeReport, type ReportSpec } from '../../../harness/controller/telemetry-reports.js';
import { openTelemetry } from './harness.js';

function fixture<T>(name: string): T {
  const url = new URL(`../../fixtures/controller/telemetry/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as T;
}

interface MinuteCases {
  now: number;
  reports: (ReportSpec & { requests: number })[];
  rows: { minute: number; deviceId: string; requests: number }[];
  queries: { fromMs: number; toMs: number; requests: number; devices: number }[];
  timeline: { fromMs: number; toMs: number; bucketMs: number; requests: number[] };
}

t.test('reports roll up under the minute their interval starts in', async (t) => {
  const cases = fixture<MinuteCases>('minute-cases.json');
  const { service, db } = openTelemetry(t, cases.now);
  for (const r of cases.reports) t.equal(service.ingest(r.deviceId, encodeReport(r)), 'accepted');
  const ask = async () => {
    for (const q of cases.queries) {
      const got = await service.query({ fromMs: q.fromMs, toMs: q.toMs });
      t.equal(got.requests, q.requests, `requests in [${q.fromMs}, ${q.toMs})`);
      t.equal(got.devices, q.devices, `devices in [${q.fromMs}, ${q.toMs})`);
    }
    const tl = await service.timeline(cases.timeline, cases.timeline.bucketMs);
    t.same(
      tl.map((b) => b.requests),
      cases.timeline.requests,
      'timeline buckets',
    );
  };
  await ask();
  await service.flush();
  const rows = db
    .prepare(
      'SELECT minute, device_id AS deviceId, requests FROM telemetry_minute ORDER BY minute, device_id',
    )
    .all();
  t.same(rows, cases.rows, 'one row per (minute, device, bundle, variant)');
  await ask();
  await t.rejects(service.timeline(cases.timeline, 90_000), { code: 'BMF_ERR_BAD_REQUEST' });
  await t.rejects(service.query({ fromMs: 2, toMs: 1 }), { code: 'BMF_ERR_BAD_REQUEST' });
});

t.test('a redelivered report is counted once, before and after a flush', async (t) => {
  const now = 1_700_000_000_000;
  const { service, counters } = openTelemetry(t, now);
  const spec = { deviceId: 'dev-1', intervalStartMs: now - 20_000, latency: { e2e: [1, 2, 3] } };
  const bytes = encodeReport(spec);
  t.equal(service.ingest('dev-1', bytes), 'accepted');
  t.equal(service.ingest('dev-1', bytes), 'duplicate');
  await service.flush();
  t.equal(service.ingest('dev-1', bytes), 'duplicate', 'still known after the flush');
  // Same interval, other variant: a different report.
  t.equal(service.ingest('dev-1', encodeReport({ ...spec, variant: 'B' })), 'accepted');
  // Same interval on another device: a different report.
  t.equal(service.ingest('dev-2', encodeReport({ ...spec, deviceId: 'dev-2' })), 'accepted');
  await service.flush();
  const q = await service.query({ fromMs: now - 60_000, toMs: now, variant: 'A' });
  t.equal(q.requests, 6, 'dev-1 A once + dev-2 A once');
  t.equal(q.reports, 2);
  t.equal(service.stats().duplicate, 2);
  t.equal(counters.all()['telemetry.duplicates'], 2);
});

t.test('the per-device memory of seen reports is bounded', async (t) => {
  const now = 1_700_000_000_000;
  const { service } = openTelemetry(t, now, { dedupPerDevice: 4 });
  const specs = Array.from({ length: 6 }, (_, i) => ({
    deviceId: 'dev-1',
    intervalStartMs: now - 100_000 + i * 10_000,
    latency: { e2e: [1] },
  }));
  for (const s of specs) service.ingest('dev-1', encodeReport(s));
  t.equal(service.ingest('dev-1', encodeReport(specs[5]!)), 'duplicate', 'recent key remembered');
  t.equal(service.ingest('dev-1', encodeReport(specs[0]!)), 'accepted', 'oldest key forgotten');
});

interface DropCases {
  now: number;
  cases: {
    name: string;
    topicDevice: string;
    hex?: string;
    report?: ReportSpec;
    truncate?: number;
    padTo?: number;
    expect: string;
  }[];
}

t.test(
  'malformed, foreign, oversized and out-of-range reports are counted and dropped',
  async (t) => {
    const cases = fixture<DropCases>('drop-cases.json');
    const { service, counters } = openTelemetry(t, cases.now);
    const expected: Record<string, number> = {};
    for (const c of cases.cases) {
      let bytes: Uint8Array = c.report ? encodeReport(c.report) : Buffer.from(c.hex ?? '', 'hex');
      if (c.truncate !== undefined) bytes = bytes.subarray(0, c.truncate);
      if (c.padTo !== undefined)
        bytes = Buffer.concat([bytes, Buffer.alloc(c.padTo - bytes.length)]);
      let result: string | undefined;
      t.doesNotThrow(() => (result = service.ingest(c.topicDevice, bytes)), c.name);
      t.equal(result, c.expect, c.name);
      expected[c.expect] = (expected[c.expect] ?? 0) + 1;
    }
    t.same(service.stats().dropped, expected, 'in-memory drop counts');
    t.equal(service.stats().accepted, 0);
    await service.flush();
    const stored = counters.all();
    for (const [reason, n] of Object.entries(expected)) {
      t.equal(stored[`telemetry.dropped.${reason}`], n, `persistent counter for ${reason}`);
    }
    t.equal(
      (await service.query({ fromMs: 0, toMs: cases.now + 1 })).reports,
      0,
      'nothing was merged',
    );
  },
);

t.test('a smaller configured payload limit is enforced', async (t) => {
  const now = 1_700_000_000_000;
  const { service } = openTelemetry(t, now, { maxReportBytes: 64 });
  const bytes = encodeReport({
    deviceId: 'dev-1',
    intervalStartMs: now,
    latency: { e2e: [1, 2, 3] },
  });
  t.ok(bytes.length > 64);
  t.equal(service.ingest('dev-1', bytes), 'too_large');
});

t.test('retention pruning removes old minutes only', async (t) => {
  const day = 86_400_000;
  const start = 1_700_000_000_000;
  const { service, clock } = openTelemetry(t, start, { retentionMs: 2 * day });
  service.ingest(
    'dev-1',
    encodeReport({ deviceId: 'dev-1', intervalStartMs: start, latency: { e2e: [1] } }),
  );
  await clock.advance(day);
  service.ingest(
    'dev-1',
    encodeReport({ deviceId: 'dev-1', intervalStartMs: start + day, latency: { e2e: [2, 3] } }),
  );
  await service.flush();
  t.equal(await service.prune(), 0, 'nothing old enough yet');
  await clock.advance(day + 120_000);
  t.equal(await service.prune(), 1, 'the first day is gone');
  const q = await service.query({ fromMs: start - day, toMs: start + 3 * day });
  t.equal(q.requests, 2, 'the second day stays');
  t.equal(
    service.ingest(
      'dev-1',
      encodeReport({ deviceId: 'dev-2', intervalStartMs: start, latency: { e2e: [1] } }),
    ),
    'device_mismatch',
  );
  t.equal(
    service.ingest(
      'dev-2',
      encodeReport({ deviceId: 'dev-2', intervalStartMs: start, latency: { e2e: [1] } }),
    ),
    'stale',
    'reports beyond retention are dropped',
  );
});
