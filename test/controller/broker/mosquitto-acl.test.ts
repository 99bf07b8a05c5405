// The Mosquitto acl_file the controller prints: the golden text, and the same decisions as the
// embedded broker's ACL (acl.ts) for every topic kind, own and another device's.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { mosquittoAclFile } from '../../../controller/broker/mosquitto-acl.js';
import {
  deviceMayPublish,
  deviceMaySubscribe,
  formatTopic,
  TOPIC_SPECS,
  type Topic,
  type TopicKind,
} from '../../../shared/wire/topics.js';

const GOLDEN = new URL('../../fixtures/controller/broker/mosquitto.acl', import.meta.url);
const DIGEST = 'a'.repeat(64);

/** Mosquitto's pattern rule for one device: %u is its username; + matches one level. */
function allowed(acl: string, username: string, access: 'read' | 'write', topic: string): boolean {
  return acl
    .split('\n')
    .filter((l) => l.startsWith('pattern '))
    .map((l) => l.split(' '))
    .some(([, a, filter]) => {
      if (a !== access && a !== 'readwrite') return false;
      const f = (filter ?? '').split('/');
      const p = topic.split('/');
      return (
        f.length === p.length && f.every((x, i) => x === '+' || x.replace('%u', username) === p[i])
      );
    });
}

t.test('golden acl_file text', async (t) => {
  t.equal(mosquittoAclFile(), await readFile(GOLDEN, 'utf8'));
  t.match(mosquittoAclFile('ops-controller'), /^user ops-controller$/m, 'controller username');
});

t.test('same decisions as the embedded broker for every topic kind', async (t) => {
  const acl = mosquittoAclFile();
  for (const kind of Object.keys(TOPIC_SPECS) as TopicKind[]) {
    for (const owner of ['dev-1', 'dev-2']) {
      const topic = formatTopic(
        (kind === 'broadcastChunk' ? { kind, digest: DIGEST } : { kind, deviceId: owner }) as Topic,
      );
      t.equal(
        allowed(acl, 'dev-1', 'write', topic),
        deviceMayPublish('dev-1', topic),
        `publish ${topic}`,
      );
      t.equal(
        allowed(acl, 'dev-1', 'read', topic),
        deviceMaySubscribe('dev-1', topic),
        `read ${topic}`,
      );
    }
  }
});
