import t from 'tap';
import {
  broadcastChunkTopic,
  controllerSubscriptions,
  deviceMayPublish,
  deviceMaySubscribe,
  deviceTopic,
  formatTopic,
  parseTopic,
  TOPIC_SPECS,
  willTopic,
} from '../../../shared/wire/topics.js';
import type { DeviceTopicKind, Topic } from '../../../shared/wire/topics.js';
import { loadFixture } from './fixtures.js';
import { codeOf } from '../../../harness/errors.js';

const table = loadFixture('topics') as {
  valid: [string, Topic][];
  malformed: string[];
  badDeviceIds: string[];
};
const acl = loadFixture('acl') as Record<'publish' | 'subscribe', [string, string, boolean][]>;

t.test('every topic kind parses and formats back', async (t) => {
  const kinds = new Set<string>();
  for (const [topic, parsed] of table.valid) {
    t.same(parseTopic(topic), parsed, topic);
    t.equal(formatTopic(parsed), topic, `format ${topic}`);
    kinds.add(parsed.kind);
  }
  t.same([...kinds].sort(), Object.keys(TOPIC_SPECS).sort(), 'the table covers every kind');
});

t.test('builders', async (t) => {
  t.equal(deviceTopic('state', 'cam-01'), 'bmf/v1/d/cam-01/state');
  t.equal(willTopic('cam-01'), 'bmf/v1/d/cam-01/presence');
  t.equal(TOPIC_SPECS.presence.retained, true, 'presence (will) is retained');
  t.equal(TOPIC_SPECS.assignment.retained, true, 'assignment is retained');
  t.equal(broadcastChunkTopic('ab'.repeat(32)), `bmf/v1/blob/${'ab'.repeat(32)}/chunk`);
  t.same(controllerSubscriptions(), [
    'bmf/v1/d/+/hello',
    'bmf/v1/d/+/state',
    'bmf/v1/d/+/presence',
    'bmf/v1/d/+/blob/req',
    'bmf/v1/d/+/telemetry',
    'bmf/v1/d/+/events',
    'bmf/v1/d/+/ack',
  ]);
  t.equal(
    codeOf(() => broadcastChunkTopic('xyz')),
    'BMF_ERR_WIRE_TOPIC',
  );
});

t.test('malformed topics give BMF_ERR_WIRE_TOPIC', async (t) => {
  for (const topic of [...table.malformed, `bmf/v1/d/cam-01/${'x/'.repeat(200)}state`]) {
    t.equal(
      codeOf(() => parseTopic(topic)),
      'BMF_ERR_WIRE_TOPIC',
      JSON.stringify(topic),
    );
  }
});

t.test('unsafe device ids are refused by every builder', async (t) => {
  for (const id of table.badDeviceIds) {
    for (const kind of Object.keys(TOPIC_SPECS).filter((k) => k !== 'broadcastChunk')) {
      t.equal(
        codeOf(() => deviceTopic(kind as DeviceTopicKind, id)),
        'BMF_ERR_WIRE_TOPIC',
        `${kind} ${JSON.stringify(id)}`,
      );
    }
  }
});

t.test('ACL: what a device may publish', async (t) => {
  for (const [device, topic, allowed] of acl.publish) {
    t.equal(deviceMayPublish(device, topic), allowed, `${device} publish ${topic}`);
  }
});

t.test('ACL: what a device may subscribe to', async (t) => {
  for (const [device, filter, allowed] of acl.subscribe) {
    t.equal(deviceMaySubscribe(device, filter), allowed, `${device} subscribe ${filter}`);
  }
});
