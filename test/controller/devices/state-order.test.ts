// A device's state reports are stored in the device's own order (boot id and sequence): one
// that arrives after a newer one was stored (another replica took it first) is left out, and
// the services watching states are not told of it.
import t from 'tap';
import { createDeviceTracker } from '../../../controller/devices/tracker.js';
import { openDatabase } from '../../../controller/store/db.js';
import { createDeviceEventRepo } from '../../../controller/store/device-events.js';
import { createDeviceRepo } from '../../../controller/store/devices.js';
import { encodeMessage } from '../../../shared/wire/codec.js';
import { parseDeviceId } from '../../../shared/ids.js';
import type { DeviceState, DeviceStatus, StateOrder } from '../../../shared/wire/messages.js';

t.test('an older report of the same boot is not stored and not passed on', async (t) => {
  const db = openDatabase(':memory:');
  t.teardown(() => db.close());
  const devices = createDeviceRepo(db);
  devices.add('dev-1', 'bm1684x', {}, 0);
  const seen: [DeviceStatus, number | undefined][] = [];
  const tracker = createDeviceTracker({
    devices,
    eventStore: createDeviceEventRepo(db),
    clock: { wallNow: () => 1000 },
    onState: (_id, s) => void seen.push([s.status, s.stateSeq]),
  });
  const report = (status: DeviceStatus, order: StateOrder) => {
    const s: DeviceState = {
      deviceId: parseDeviceId('dev-1'),
      active: [],
      lastKnownGood: [],
      assignmentSequence: 1,
      status,
      lastErrorCode: '',
      uptimeMs: 1,
      timeMs: 1,
      ...order,
    };
    return tracker.handle('state', 'dev-1', encodeMessage('DeviceState', s));
  };
  await report('active', { bootId: 'b1', stateSeq: 2 });
  await report('syncing', { bootId: 'b1', stateSeq: 1 });
  t.equal(devices.get('dev-1')?.state?.status, 'active', 'the older "syncing" left out');
  await report('syncing', {});
  t.equal(devices.get('dev-1')?.state?.status, 'syncing', 'an unordered report: last write wins');
  t.same(seen, [
    ['active', 2],
    ['syncing', undefined],
  ]);
});
