// A real controller slice for tests: SQLite, keystore, registry with one imported bundle, the
// embedded broker, the controller link, the assignment service, blob server and device tracker,
// plus mqtt.js clients acting as devices.
import type { Test } from 'tap';
import mqtt, { type MqttClient } from 'mqtt';
import { join } from 'node:path';
import { createSystemClock } from '../../../shared/clock.js';
import { startEmbeddedBroker } from '../../../controller/broker/embedded.js';
import { CONTROLLER_USERNAME } from '../../../controller/broker/acl.js';
import { connectControllerLink } from '../../../controller/broker/link.js';
import { openDatabase } from '../../../controller/store/db.js';
import { createAssignmentRepo } from '../../../controller/store/assignments.js';
import { createBundleRepo } from '../../../controller/store/bundles.js';
import { createDeviceEventRepo } from '../../../controller/store/device-events.js';
import { createDeviceRepo } from '../../../controller/store/devices.js';
import { createRegistry } from '../../../controller/registry/registry.js';
import { createAssignmentService } from '../../../controller/distribution/assignments.js';
import {
  createBlobServer,
  type BlobServerOptions,
} from '../../../controller/distribution/blobs.js';
import type { Publish } from '../../../controller/distribution/assignments.js';
import { createDeviceTracker } from '../../../controller/devices/tracker.js';
import { willTopic } from '../../../shared/wire/topics.js';
import { encodeMessage } from '../../../shared/wire/codec.js';
import { makeBundle, makeKeystore, NOW } from '../registry/make-bundle.js';
import { parseDeviceId } from '../../../shared/ids.js';

export const HEALTH = { maxErrorRate: 0.05, maxP95Ms: 200, windowS: 60 };

export async function startSlice(
  t: Test,
  opts: {
    chunkSize?: number;
    bmodelBytes?: number;
    devices?: [string, string][];
    /** More blob server options (thresholds, limits). */
    blobs?: Partial<BlobServerOptions>;
    /** Wraps the chunk publish (to hold or observe chunks on their way to the broker). */
    wrapChunkPublish?: (publish: Publish) => Publish;
  } = {},
) {
  const dir = t.testdir();
  const ks = await makeKeystore(dir);
  const root = await ks.readRoot();
  const db = openDatabase(join(dir, 'db', 'controller.sqlite'));
  t.teardown(() => db.close());
  let now = NOW + 1000;
  // Stamps the test moves by hand; real waits, so the blob server's start delay and the devices'
  // retries run as they do in the controller.
  const clock = { wallNow: () => now, sleep: createSystemClock().sleep };
  const advance = (ms: number) => {
    now += ms;
  };
  const repo = createDeviceRepo(db);
  const secrets = new Map<string, string>();
  for (const [id, chip] of opts.devices ?? [['dev-1', 'bm1684x']]) {
    secrets.set(id, repo.add(id, chip, {}, now).secret);
  }
  const registry = createRegistry({
    store: createBundleRepo(db),
    blobDir: join(dir, 'blobs'),
    root,
    clock,
  });
  const bundle = await makeBundle(ks, join(dir, 'b1'), {
    bmodelBytes: opts.bmodelBytes ?? 300_000,
  });
  await registry.importBundleDir(bundle.dir);

  const drops: string[] = [];
  const tracker = createDeviceTracker({
    devices: repo,
    eventStore: createDeviceEventRepo(db),
    clock,
    onDropped: (kind, e) => drops.push(`${kind}:${e.code}`),
  });
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    controllerSecret: 'controller-secret',
    authenticateDevice: (id, s) => repo.authenticate(id, s),
    onPresence: (id, online) => tracker.setConnected(id, online),
  });
  t.teardown(() => broker.close());
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const link = await connectControllerLink({
    url,
    username: CONTROLLER_USERNAME,
    password: 'controller-secret',
    clientId: `${CONTROLLER_USERNAME}-test`,
    onDropped: (reason, e) => drops.push(`link-${reason}:${e.code}`),
  });
  t.teardown(() => link.close());
  const assignments = createAssignmentService({
    store: createAssignmentRepo(db),
    registry,
    devices: repo,
    signers: () => ks.signers('assignment'),
    publish: (topic, bytes, o) => link.publish(topic, bytes, o),
    clock,
    defaults: { expiresInMs: 7 * 86_400_000, health: HEALTH },
  });
  const publish: Publish = (topic, bytes, o) => link.publish(topic, bytes, o);
  const blobs = createBlobServer({
    registry,
    assignments,
    publish,
    publishChunk: opts.wrapChunkPublish?.(publish) ?? publish,
    clock,
    chunkSize: opts.chunkSize ?? 64 * 1024,
    ...opts.blobs,
    onDropped: (reason, e) => drops.push(`blobs-${reason}:${e.code}`),
  });
  t.teardown(() => blobs.close());
  blobs.attach(link);
  tracker.attach(link);

  async function connectDevice(id: string, withWill = false): Promise<MqttClient> {
    const client = await mqtt.connectAsync(url, {
      clientId: id,
      username: id,
      password: secrets.get(id) ?? 'wrong',
      protocolVersion: 4,
      reconnectPeriod: 0,
      ...(withWill
        ? {
            will: {
              topic: willTopic(id),
              payload: Buffer.from(
                encodeMessage('Presence', {
                  deviceId: parseDeviceId(id),
                  online: false,
                  timeMs: now,
                }),
              ),
              qos: 1 as const,
              retain: true,
            },
          }
        : {}),
    });
    t.teardown(() => client.endAsync(true));
    return client;
  }

  return {
    dir,
    ks,
    root,
    db,
    clock,
    advance,
    repo,
    secrets,
    registry,
    bundle,
    tracker,
    broker,
    url,
    link,
    assignments,
    blobs,
    drops,
    connectDevice,
  };
}
