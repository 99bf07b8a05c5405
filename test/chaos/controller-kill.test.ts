// kill -9 of the controller under telemetry load: every report a device sent is stored exactly
// once (the broker acknowledges a report only once it is committed; the device sends again what
// was not acknowledged; the stored report keys recognise what was stored but not acknowledged).
import t from 'tap';
import { chaosSeed, controllerKillTrials } from '../../harness/controller/chaos.js';

t.test('0 telemetry reports lost or doubled across controller kills', async (t) => {
  const { random } = chaosSeed((l) => t.comment(l));
  const r = await controllerKillTrials({ kills: 3, devices: 3, random, log: (l) => t.comment(l) });
  t.comment(
    `kills ${r.kills}: reports sent ${r.sent.reports} (${r.sent.requests} requests), stored ${r.stored.requests} requests`,
  );
  t.ok(r.sent.reports > 0, 'reports were sent');
  t.equal(r.lost, 0, 'requests lost');
  t.equal(r.doubled, 0, 'requests stored twice');
  t.equal(r.stored.requests, r.sent.requests, 'sent = stored');
});

t.test('0 telemetry reports lost across a broker outage', async (t) => {
  const { random } = chaosSeed((l) => t.comment(l));
  const r = await controllerKillTrials({
    kills: 2,
    devices: 2,
    random,
    mode: 'outage',
    log: (l) => t.comment(l),
  });
  t.comment(
    `outages ${r.kills}: reports sent ${r.sent.reports} (${r.sent.requests} requests), stored ${r.stored.requests} requests`,
  );
  t.equal(r.lost, 0, 'requests lost');
  t.equal(r.doubled, 0, 'requests stored twice');
});
