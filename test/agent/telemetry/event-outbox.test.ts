// Events wait on disk while the broker is away and go out in order once it is back; a failed
// publish keeps them for the next flush. Real outbox directory.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createEventOutbox } from '../../../agent/telemetry/event-outbox.js';
import { createOutbox } from '../../../agent/telemetry/outbox.js';
import { silentLogger } from '../../../shared/log.js';
import type { Event } from '../../../shared/wire/messages.js';
import { parseDeviceId } from '../../../shared/ids.js';

const event = (code: string, timeMs: number): Event => ({
  deviceId: parseDeviceId('dev-1'),
  timeMs,
  severity: 'info',
  code,
  message: code,
  details: { n: String(timeMs) },
  variant: 'A',
  bundleDigest: '',
});

t.test('offline events are kept and sent in order on reconnect', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bmf-event-outbox-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const outbox = await createOutbox(dir, 100);
  let connected = false;
  let failNext = false;
  const sent: Event[] = [];
  const events = createEventOutbox({
    outbox,
    connected: () => connected,
    publish: async (e) => {
      if (failNext) {
        failNext = false;
        throw new Error('broker went away');
      }
      sent.push(e);
    },
    log: silentLogger(),
  });
  await events.emit(event('BMF_EVT_ACTIVATED', 1));
  await events.emit(event('BMF_EVT_HEALTHY', 2));
  await events.flush();
  t.equal(sent.length, 0, 'nothing sent while offline');
  t.equal(outbox.size(), 2, 'both kept on disk');

  connected = true;
  failNext = true;
  await events.flush();
  t.equal(sent.length, 0, 'a failed publish sends nothing');
  t.equal(outbox.size(), 2, 'and loses nothing');

  await events.flush();
  t.same(
    sent.map((e) => [e.code, e.timeMs, e.details.n]),
    [
      ['BMF_EVT_ACTIVATED', 1, '1'],
      ['BMF_EVT_HEALTHY', 2, '2'],
    ],
    'sent in order, decoded as recorded',
  );
  t.equal(outbox.size(), 0);

  // A restart reads what was left behind.
  connected = false;
  await events.emit(event('BMF_EVT_UNLOADED', 3));
  const again = createEventOutbox({
    outbox: await createOutbox(dir, 100),
    connected: () => true,
    publish: async (e) => void sent.push(e),
    log: silentLogger(),
  });
  await again.flush();
  t.same(sent.at(-1)?.code, 'BMF_EVT_UNLOADED', 'queued before a restart, sent after it');
});

t.test('a full outbox drops the oldest event and says so with its code', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bmf-event-outbox-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const warnings: unknown[] = [];
  const log = { ...silentLogger(), warn: (fields: unknown) => void warnings.push(fields) };
  const outbox = await createOutbox(dir, 2);
  const events = createEventOutbox({
    outbox,
    connected: () => false,
    publish: async () => undefined,
    log: log as ReturnType<typeof silentLogger>,
  });
  for (let i = 1; i <= 3; i++) await events.emit(event('BMF_EVT_ACTIVATED', i));
  t.equal(outbox.size(), 2);
  t.equal(outbox.dropped(), 1);
  t.same(warnings, [{ code: 'BMF_ERR_AGENT_OUTBOX_FULL' }]);
});

t.test(
  'items enqueued without waiting keep their call order, whatever their write takes',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'bmf-outbox-order-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const outbox = await createOutbox(dir, 100);
    // A large item's write takes longer than a small one's: racing writes would queue the small
    // one first (the regression-then-rollback order the controller relies on).
    const sizes = [8 << 20, 1, 4 << 20, 2, 1 << 20, 3];
    await Promise.all(sizes.map((n, i) => outbox.enqueue(new Uint8Array(n).fill(i + 1))));
    const order: number[] = [];
    await outbox.drain(async (bytes) => {
      order.push(bytes[0]!);
    });
    t.same(order, [1, 2, 3, 4, 5, 6], 'drained in the order enqueue was called');
    const reopened = await createOutbox(dir, 100);
    t.equal(reopened.size(), 0, 'nothing left on disk');
  },
);
