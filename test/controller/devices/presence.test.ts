// Presence is the connection's when the broker can tell (the embedded one): hello, presence and
// will messages that arrive late (after the connection they speak of closed, or after a newer one
// opened) do not make a disconnected device "online" or a connected one "offline".
import t from 'tap';
import { createDeviceTracker } from '../../../controller/devices/tracker.js';
import { openDatabase } from '../../../controller/store/db.js';
import { createDeviceEventRepo } from '../../../controller/store/device-events.js';
import { createDeviceRepo } from '../../../controller/store/devices.js';
import { encodeMessage } from '../../../shared/wire/codec.js';
import { parseDeviceId } from '../../../shared/ids.js';

function setup(connected?: (id: string) => boolean) {
  const db = openDatabase(':memory:');
  const devices = createDeviceRepo(db);
  devices.add('dev-1', 'bm1684x', {}, 0);
  const tracker = createDeviceTracker({
    devices,
    eventStore: createDeviceEventRepo(db),
    clock: { wallNow: () => 1000 },
    ...(connected ? { connected } : {}),
  });
  const presence = (online: boolean) =>
    tracker.handle(
      'presence',
      'dev-1',
      encodeMessage('Presence', { deviceId: parseDeviceId('dev-1'), online, timeMs: 1 }),
    );
  return { devices, tracker, presence, close: () => db.close() };
}

t.test('with the broker connection known, late messages do not override it', async (t) => {
  let open = false;
  const s = setup(() => open);
  t.teardown(s.close);
  await s.presence(true);
  t.equal(s.devices.get('dev-1')?.online, false, 'an "online" message from a gone connection');
  open = true;
  await s.tracker.setConnected('dev-1', true);
  await s.presence(false);
  t.equal(s.devices.get('dev-1')?.online, true, 'the will of an older connection');
  open = false;
  await s.tracker.setConnected('dev-1', false);
  t.equal(s.devices.get('dev-1')?.online, false, 'disconnect');
});

t.test('without it (external broker), presence messages and wills decide', async (t) => {
  const s = setup();
  t.teardown(s.close);
  await s.presence(true);
  t.equal(s.devices.get('dev-1')?.online, true);
  await s.presence(false);
  t.equal(s.devices.get('dev-1')?.online, false);
});
