// groupHealth: what the rollout executor's health gate reads.
import t from 'tap';
import {
  BUNDLE_A,
  BUNDLE_B,
  encodeReport,
  lognormalSamples,
  sketchOf,
} from '../../../harness/controller/telemetry-reports.js';
import { openTelemetry } from './harness.js';

const HOUR = 3_600_000;
const group = ['dev-1', 'dev-2', 'dev-3'];

t.test('p95, error rate, accuracy and the baseline p95 before the new bundle', async (t) => {
  const t0 = 1_700_000_000_000;
  const { service, clock } = openTelemetry(t, t0);
  const oldAll: number[] = [];
  const newAll: number[] = [];
  let seed = 10;
  // One hour on the old bundle A, then the group switches to B at t0.
  for (const id of group) {
    for (let start = t0 - HOUR; start < t0; start += 60_000) {
      const e2e = lognormalSamples(20, 10, 0.2, seed++);
      oldAll.push(...e2e);
      service.ingest(
        id,
        encodeReport({
          deviceId: id,
          intervalStartMs: start,
          bundleDigest: BUNDLE_A,
          latency: { e2e },
        }),
      );
    }
  }
  // A device outside the group on B, far slower: must not count.
  service.ingest(
    'dev-9',
    encodeReport({
      deviceId: 'dev-9',
      intervalStartMs: t0 + 60_000,
      bundleDigest: BUNDLE_B,
      latency: { e2e: [500, 500] },
      errors: 2,
    }),
  );
  await service.flush();
  await clock.advance(10 * 60_000);
  for (const id of group) {
    for (let start = t0; start < t0 + 10 * 60_000; start += 60_000) {
      const e2e = lognormalSamples(20, 15, 0.2, seed++);
      newAll.push(...e2e);
      service.ingest(
        id,
        encodeReport({
          deviceId: id,
          intervalStartMs: start,
          bundleDigest: BUNDLE_B,
          latency: { e2e },
          errors: 1,
          golden: [9, 10],
        }),
      );
    }
  }
  // Part of it stays unflushed: health must still see it.
  const soakStart = t0 + 2 * 60_000;
  const h = await service.groupHealth(group, BUNDLE_B, soakStart, BUNDLE_A);
  const expectedRequests = group.length * 8 * 21;
  t.equal(h.requests, expectedRequests, 'requests of the group since the soak started');
  t.ok(Math.abs(h.errorRate - (group.length * 8) / expectedRequests) < 1e-12, 'error rate');
  t.equal(h.accuracy, 0.9, 'golden accuracy');
  const oldP95 = sketchOf(oldAll).quantile(0.95);
  t.ok(
    h.baselineP95Ms !== undefined && Math.abs(h.baselineP95Ms - oldP95) / oldP95 < 0.01,
    `baseline ${h.baselineP95Ms} ~ ${oldP95}`,
  );
  t.ok(h.p95Ms !== undefined && h.p95Ms > 15 && h.p95Ms < 30, `p95 ${h.p95Ms} of the new bundle`);
  t.notOk(
    'baselineP95Ms' in (await service.groupHealth(group, BUNDLE_B, soakStart)),
    'no baseline asked',
  );
});

t.test('no telemetry: zero requests, no latency, no accuracy', async (t) => {
  const { service } = openTelemetry(t, 1_700_000_000_000);
  const h = await service.groupHealth(group, BUNDLE_B, 1_700_000_000_000 - 60_000, BUNDLE_A);
  t.same(h, { requests: 0, errorRate: 0 });
  t.same(await service.groupHealth([], BUNDLE_B, 0), { requests: 0, errorRate: 0 });
});

t.test('shadow agreement is the accuracy when no golden set ran', async (t) => {
  const t0 = 1_700_000_000_000;
  const { service } = openTelemetry(t, t0);
  service.ingest(
    'dev-1',
    encodeReport({
      deviceId: 'dev-1',
      intervalStartMs: t0 - 30_000,
      bundleDigest: BUNDLE_B,
      latency: { e2e: [1, 2] },
      shadow: { pairs: 40, agree: 30 },
    }),
  );
  t.equal((await service.groupHealth(['dev-1'], BUNDLE_B, t0 - 60_000)).accuracy, 0.75);
});
