// Device events are rate-limited per device (token bucket; what is over is counted, not stored)
// and kept for a bounded time and count.
import t from 'tap';
import { createDeviceTracker } from '../../../controller/devices/tracker.js';
import { createTokenBuckets } from '../../../controller/devices/rate-limit.js';
import { openDatabase } from '../../../controller/store/db.js';
import { createDeviceEventRepo } from '../../../controller/store/device-events.js';
import { createDeviceRepo } from '../../../controller/store/devices.js';
import { encodeMessage } from '../../../shared/wire/codec.js';
import { parseDeviceId } from '../../../shared/ids.js';

function setup(events: Parameters<typeof createDeviceTracker>[0]['events']) {
  const db = openDatabase(':memory:');
  const devices = createDeviceRepo(db);
  devices.add('dev-1', 'bm1684x', {}, 0);
  devices.add('dev-2', 'bm1684x', {}, 0);
  let now = 1_000_000;
  const limited: string[] = [];
  const tracker = createDeviceTracker({
    devices,
    eventStore: createDeviceEventRepo(db),
    clock: { wallNow: () => now },
    events,
    onRateLimited: (id) => limited.push(id),
  });
  const send = async (id: string, n: number) => {
    const sent: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      sent.push(
        tracker.handle(
          'event',
          id,
          encodeMessage('Event', {
            deviceId: parseDeviceId(id),
            timeMs: now,
            severity: 'info',
            code: 'BMF_EVT_TEST',
            message: 'x'.repeat(1000),
            details: {},
            variant: '',
            bundleDigest: '',
          }),
        ),
      );
    }
    await Promise.all(sent);
  };
  const stored = (id: string) =>
    (
      db.prepare('SELECT COUNT(*) AS n FROM device_events WHERE device_id = ?').get(id) as {
        n: number;
      }
    ).n;
  return {
    tracker,
    send,
    stored,
    limited,
    advance: (ms: number) => void (now += ms),
    close: () => db.close(),
  };
}

t.test('token buckets: burst, then the rate', async (t) => {
  const b = createTokenBuckets({ ratePerSecond: 2, burst: 3 });
  const takes = (n: number, at: number) => Array.from({ length: n }, () => b.take('d', at));
  t.same(takes(4, 0), [true, true, true, false]);
  t.same(takes(2, 1000), [true, true], 'two tokens a second later');
  t.same(takes(1, 1000), [false]);
  t.same(takes(4, 100_000), [true, true, true, false], 'never more than the burst');
});

t.test('a flooding device is limited, the others are not', async (t) => {
  const s = setup({ ratePerSecond: 1, burst: 20 });
  t.teardown(s.close);
  await s.send('dev-1', 20_000);
  await s.send('dev-2', 5);
  t.equal(s.stored('dev-1'), 20, 'the burst is stored');
  t.equal(s.limited.length, 20_000 - 20, 'every dropped event is counted');
  t.equal(s.stored('dev-2'), 5, 'another device is not affected');
  s.advance(10_000);
  await s.send('dev-1', 100);
  t.equal(s.stored('dev-1'), 30, 'ten seconds admit ten more');
});

t.test('events are kept for a bounded count and time', async (t) => {
  const s = setup({ ratePerSecond: 1000, burst: 1000, maxPerDevice: 100, retentionMs: 60_000 });
  t.teardown(s.close);
  await s.send('dev-1', 950);
  t.ok(s.stored('dev-1') <= 110, `at most 1.1 x maxPerDevice stored (${s.stored('dev-1')})`);
  t.ok(s.stored('dev-1') >= 100, 'the newest maxPerDevice kept');
  t.equal((await s.tracker.events('dev-1', { limit: 1 }))[0]?.id, 950, 'newest kept');
  s.advance(61_000);
  await s.send('dev-2', 3);
  t.equal((await s.tracker.pruneEvents()) >= 100, true, 'old events pruned');
  t.equal(s.stored('dev-1'), 0);
  t.equal(s.stored('dev-2'), 3, 'recent events stay');
});
