// The dashboard's read model over device records: fleet summary and server-side paging.
import t from 'tap';
import { parseDeviceId } from '../../../shared/ids.js';
import type { DeviceRecord } from '../../../controller/store/devices.js';
import type { TelemetryFilter } from '../../../controller/api/services.js';
import { emptyRollup } from '../../../controller/telemetry/rollup.js';
import { summarize } from '../../../controller/telemetry/summary.js';
import { devicePage, fleetSummary, telemetrySeries } from '../../../controller/web/queries.js';

const record = (i: number): DeviceRecord => ({
  id: parseDeviceId(`d-${String(i).padStart(5, '0')}`),
  chip: i % 3 === 0 ? 'bm1688' : 'bm1684x',
  tags: { site: i % 2 === 0 ? 'berlin' : 'shenzhen' },
  createdAt: 0,
  lastSeen: i,
  online: i % 10 !== 0,
  state:
    i % 7 === 0
      ? { status: 'error', lastErrorCode: 'BMF_ERR_RUNTIME_INFER', active: [] }
      : {
          status: 'active',
          active: [{ variant: 'A', bundleDigest: 'ab'.repeat(32), bundleSequence: 1 }],
        },
});
const fleet = Array.from({ length: 10_000 }, (_, i) => record(i));

t.test('fleet summary counts', async (t) => {
  const s = fleetSummary(fleet, 5);
  t.equal(s.total, 10_000);
  t.equal(s.offline.count, 1000);
  t.equal(s.offline.first.length, 5, 'lists only the first few');
  t.equal(s.byChip['bm1688'], 3334);
  t.equal(s.byTag['site=berlin'], 5000);
  const errorsOnline = fleet.filter((_, i) => i % 7 === 0 && i % 10 !== 0).length;
  t.equal(s.byState['error'], errorsOnline);
  t.equal(s.failing.count, fleet.filter((_, i) => i % 7 === 0).length);
  t.equal(
    Object.values(s.byState).reduce((a, b) => a + b, 0),
    10_000,
    'every device in one state',
  );
});

const pages = [
  { name: 'first page', q: {}, offset: 0, limit: 50, total: 10_000, first: 'd-00000' },
  {
    name: 'last partial page',
    q: {},
    offset: 9_990,
    limit: 50,
    total: 10_000,
    first: 'd-09990',
    n: 10,
  },
  { name: 'offline', q: { state: 'offline' }, offset: 0, limit: 50, total: 1000, first: 'd-00000' },
  { name: 'failing', q: { state: 'failing' }, offset: 0, limit: 3, total: 1429, first: 'd-00000' },
  { name: 'id substring', q: { q: '0999' }, offset: 0, limit: 50, total: 11, first: 'd-00999' },
  {
    name: 'tag',
    q: { q: 'site=shenzhen', chip: 'bm1688' },
    offset: 0,
    limit: 50,
    total: 1667,
    first: 'd-00003',
  },
  { name: 'nothing', q: { q: 'no-such' }, offset: 0, limit: 50, total: 0 },
] as const;

for (const p of pages) {
  t.test(`device page: ${p.name}`, async (t) => {
    const r = devicePage(fleet, { ...p.q, offset: p.offset, limit: p.limit });
    t.equal(r.total, p.total);
    if ('first' in p) t.equal(r.items[0]?.id, p.first);
    t.equal(r.items.length, 'n' in p ? p.n : Math.min(p.limit, p.total));
  });
}

// The telemetry service answers asynchronously on either store; the series must carry the
// whole-window summary itself, not a promise that JSON turns into `{}`.
t.test(
  'telemetry series awaits an asynchronous query for every bucket and the whole window',
  async (t) => {
    const asked: TelemetryFilter[] = [];
    const query = async (f: TelemetryFilter) => {
      asked.push(f);
      await new Promise((resolve) => setImmediate(resolve));
      // Requests = the window's length in minutes, so each answer tells which window it is for.
      return { ...summarize(emptyRollup(), 0), requests: (f.toMs - f.fromMs) / 60_000 };
    };
    const series = await telemetrySeries(query, { bundle: 'ab'.repeat(32) }, 0, 60 * 60_000, 6);
    const sent = JSON.parse(JSON.stringify(series)) as typeof series;
    t.equal(sent.points.length, 6);
    t.same(
      sent.points.map((p) => p.requests),
      [10, 10, 10, 10, 10, 10],
      'one 10-minute bucket per point',
    );
    t.equal(sent.summary.requests, 60, 'the summary covers the whole hour');
    t.same(sent.summary.drift, [], 'the summary arrives with its fields');
    t.equal(asked.length, 7, 'six buckets and the whole window');
    t.ok(
      asked.every((f) => f.bundle === 'ab'.repeat(32)),
      'every query keeps the filter',
    );
  },
);
