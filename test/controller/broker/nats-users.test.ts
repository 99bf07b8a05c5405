// NATS users say what the embedded broker's ACL says (shared/wire/topics.ts deviceMayPublish and
// deviceMaySubscribe): every topic of every kind, for the device itself and for another, is
// allowed by the NATS permissions exactly when the ACL allows it. NATS `*` matches one subject
// token, which is how the broadcast-chunk pattern is read here. Bad input is refused with
// BMF_ERR_NATS_USERS. (On a real NATS node: test/integration/controller/nats-credentials.test.ts.)
import bcrypt from 'bcryptjs';
import t from 'tap';
import {
  MQTT_QOS1_DELIVERY_SUBJECTS,
  NATS_BCRYPT_COST,
  natsAuthorizationConf,
  natsDevicePermissions,
} from '../../../controller/broker/nats-users.js';
import { topicToSubject } from '../../../controller/broker/jetstream-link.js';
import {
  broadcastChunkTopic,
  deviceMayPublish,
  deviceMaySubscribe,
  deviceTopic,
  TOPIC_SPECS,
  type DeviceTopicKind,
  type TopicKind,
} from '../../../shared/wire/topics.js';

/** NATS subject matching: `*` one token, `>` the rest. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

const kinds = (Object.keys(TOPIC_SPECS) as TopicKind[]).filter(
  (k): k is DeviceTopicKind => k !== 'broadcastChunk',
);

t.test('permissions are the embedded ACL, kind by kind', async (t) => {
  const me = 'se7-001';
  const p = natsDevicePermissions(me);
  for (const owner of [me, 'se7-002']) {
    for (const k of kinds) {
      const topic = deviceTopic(k, owner);
      const subject = topicToSubject(topic);
      t.equal(
        p.publish.some((x) => matches(x, subject)),
        deviceMayPublish(me, topic),
        `publish ${topic}`,
      );
      t.equal(
        p.subscribe.some((x) => matches(x, subject)),
        deviceMaySubscribe(me, topic),
        `subscribe ${topic}`,
      );
    }
  }
  const chunk = broadcastChunkTopic('a'.repeat(64));
  t.ok(deviceMaySubscribe(me, chunk));
  t.ok(
    p.subscribe.some((x) => matches(x, topicToSubject(chunk))),
    'broadcast chunks',
  );
  t.notOk(
    p.publish.some((x) => matches(x, topicToSubject(chunk))),
    'no publishing chunks',
  );
  t.ok(p.subscribe.includes(MQTT_QOS1_DELIVERY_SUBJECTS), 'QoS 1 delivery subjects');
  t.notOk(
    p.publish.some((x) => x.includes('>') || x.includes('*')),
    'publish names exact subjects',
  );
});

t.test('the authorization block and its refusals', async (t) => {
  const conf = natsAuthorizationConf({
    controller: { password: 'p"w' },
    devices: [{ id: 'se7-001', secret: 's1' }],
  });
  const password = (user: string) =>
    new RegExp(`user: ${JSON.stringify(user)}, password: "([^"]*)"`).exec(conf)?.[1] ?? '';
  // bcrypt hashes at the chosen cost, each of its own secret; no secret in clear.
  for (const [user, secret] of [
    ['bmfleet-controller', 'p"w'],
    ['se7-001', 's1'],
  ] as const) {
    const hash = password(user);
    t.match(hash, new RegExp(`^\\$2b\\$0${NATS_BCRYPT_COST}\\$`), `${user}: a bcrypt hash`);
    t.ok(bcrypt.compareSync(secret, hash), `${user}: of its secret`);
    t.notOk(bcrypt.compareSync(`${secret}x`, hash), `${user}: not of another`);
  }
  t.notOk(conf.includes('p"w') || conf.includes('"s1"'), 'no secret in clear');
  for (const [devices, why] of [
    [[{ id: 'a/b', secret: 's' }], 'not a device id'],
    [[{ id: 'bmfleet-controller-x', secret: 's' }], "the controller's name"],
    [
      [
        { id: 'd1', secret: 's' },
        { id: 'd1', secret: 't' },
      ],
      'listed twice',
    ],
    [[{ id: 'd1', secret: '' }], 'empty secret'],
  ] as const) {
    t.throws(
      () => natsAuthorizationConf({ controller: { password: 'x' }, devices }),
      { code: 'BMF_ERR_NATS_USERS', message: new RegExp(why) },
      why,
    );
  }
});
