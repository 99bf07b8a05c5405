import t from 'tap';
import { readFileSync } from 'node:fs';
import { activeBundleOf, isInstallFailure } from '../../../controller/devices/observe.js';
import { encodeMessage } from '../../../shared/wire/codec.js';
import { parseDeviceId, parseDigest, type Digest, type VariantName } from '../../../shared/ids.js';
import type { DeviceState } from '../../../shared/wire/messages.js';
import { deviceTopic } from '../../../shared/wire/topics.js';
import { startSlice } from '../distribution/harness.js';
import { waitFor } from '../../../harness/wait.js';
import { FIXTURES } from '../registry/make-bundle.js';

const D1 = parseDigest('1'.repeat(64));
const D2 = parseDigest('2'.repeat(64));

const cases = JSON.parse(readFileSync(`${FIXTURES}tracker-cases.json`, 'utf8')) as {
  name: string;
  active: [VariantName, string][];
  expect: string | null;
}[];

t.test('active bundle of a reported state', async (t) => {
  for (const c of cases) {
    const active = c.active.map(([variant, bundleDigest]) => ({
      variant,
      bundleDigest: parseDigest(bundleDigest),
      bundleSequence: 1,
    }));
    t.equal(activeBundleOf(active) ?? null, c.expect, c.name);
  }
  t.ok(isInstallFailure({ code: 'BMF_ERR_AGENT_GATE_FAILED', bundleDigest: D1 }));
  t.ok(isInstallFailure({ code: 'BMF_EVT_ROLLED_BACK', bundleDigest: D1 }));
  t.notOk(isInstallFailure({ code: 'BMF_EVT_ACTIVATED', bundleDigest: D1 }));
  t.notOk(isInstallFailure({ code: 'BMF_ERR_IO', bundleDigest: '' }));
});

function state(id: string, digest: Digest): DeviceState {
  return {
    deviceId: parseDeviceId(id),
    active: [{ variant: 'A', bundleDigest: digest, bundleSequence: 1 }],
    lastKnownGood: [],
    assignmentSequence: 3,
    status: 'active',
    lastErrorCode: '',
    uptimeMs: 10,
    timeMs: 1,
  };
}

t.test('presence, state, events and acks from real MQTT devices', async (t) => {
  const s = await startSlice(t, {
    devices: [
      ['dev-1', 'bm1684x'],
      ['dev-2', 'bm1684x'],
    ],
  });
  const dev = await s.connectDevice('dev-1', true);
  await waitFor('online on connect', async () => (await s.tracker.get('dev-1'))?.online === true);
  const pub = (kind: Parameters<typeof deviceTopic>[0], bytes: Uint8Array) =>
    dev.publishAsync(deviceTopic(kind, 'dev-1'), Buffer.from(bytes), { qos: 1 });

  await pub(
    'hello',
    encodeMessage('DeviceHello', {
      deviceId: parseDeviceId('dev-1'),
      chip: 'bm1684x',
      agentVersion: '0.1.0',
      runtime: 'sim',
      capabilities: [],
      timeMs: 1,
    }),
  );
  await pub('state', encodeMessage('DeviceState', state('dev-1', D1)));
  await pub(
    'event',
    encodeMessage('Event', {
      deviceId: parseDeviceId('dev-1'),
      timeMs: 5,
      severity: 'warning',
      code: 'BMF_ERR_AGENT_GATE_FAILED',
      message: 'gate failed',
      details: { reason: 'accuracy' },
      variant: 'A',
      bundleDigest: D2,
    }),
  );
  await pub(
    'ack',
    encodeMessage('Ack', {
      commandId: 'c1',
      ok: true,
      errorCode: '',
      message: '',
      deviceId: parseDeviceId('dev-1'),
      timeMs: 6,
    }),
  );
  // Hostile input: garbage, and a payload speaking for another device.
  await pub('state', new Uint8Array([1, 2, 3, 250]));
  await pub('state', encodeMessage('DeviceState', state('dev-2', D2)));
  await waitFor(
    'ingest',
    async () => (await s.tracker.events('dev-1')).length === 2 && s.drops.length >= 2,
  );

  const view = await s.tracker.get('dev-1');
  t.equal(view?.hello?.agentVersion, '0.1.0');
  t.equal(view?.activeBundle, D1);
  t.equal((await s.tracker.get('dev-2'))?.state, null, 'dev-1 could not speak for dev-2');
  t.same(s.drops.sort(), ['state:BMF_ERR_DEVICE_ACL', 'state:BMF_ERR_WIRE_DECODE']);
  const events = await s.tracker.events('dev-1');
  t.same(
    events.map((e) => e.code),
    ['BMF_EVT_COMMAND_ACK', 'BMF_ERR_AGENT_GATE_FAILED'],
    'newest first',
  );
  t.equal(events[1]?.details.bundleDigest, D2);

  const obs = await s.tracker.observe(['dev-1', 'dev-2', 'ghost']);
  t.same(obs.get('dev-1'), {
    online: true,
    activeBundle: D1,
    failure: { bundle: D2, code: 'BMF_ERR_AGENT_GATE_FAILED', at: s.clock.wallNow() },
  });
  t.same(obs.get('dev-2'), { online: false });
  t.notOk(obs.has('ghost'), 'unknown devices are not observed');

  // A second tracker over the same database (controller restart) finds the failure in SQLite.
  const { createDeviceTracker } = await import('../../../controller/devices/tracker.js');
  const { createDeviceEventRepo } = await import('../../../controller/store/device-events.js');
  const again = createDeviceTracker({
    devices: s.repo,
    eventStore: createDeviceEventRepo(s.db),
    clock: s.clock,
  });
  t.same((await again.observe(['dev-1'])).get('dev-1')?.failure?.code, 'BMF_ERR_AGENT_GATE_FAILED');

  // Losing the connection: the broker publishes the will and reports the disconnect.
  dev.stream.destroy();
  await waitFor('offline after drop', async () => (await s.tracker.get('dev-1'))?.online === false);
  t.pass('offline after the connection drops');
});
