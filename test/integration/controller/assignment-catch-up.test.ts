// A device whose broker kept neither its session nor the retained assignment still gets it: the
// controller (in process, embedded broker) compares the sequence in the device's state report
// with the one it persisted and sends the assignment again (controller/distribution/catch-up.ts).
// The retained copy is removed the way a broker that lost it would leave things: an empty
// retained publish by the controller's own credentials; the device connects with a clean session.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { CONTROLLER_USERNAME } from '../../../controller/broker/acl.js';
import {
  makeSignedBundle,
  startTestController,
} from '../../../harness/controller/test-controller.js';
import { waitFor } from '../../../harness/wait.js';
import { parseDeviceId } from '../../../shared/ids.js';
import { decodeMessage, encodeMessage } from '../../../shared/wire/codec.js';
import { deviceTopic } from '../../../shared/wire/topics.js';

t.test(
  'a device without session or retained copy gets its assignment from its state report',
  async (t) => {
    const tc = await startTestController();
    t.teardown(() => tc.handle.stop());
    const post = async (path: string, body: unknown) => {
      const r = await fetch(`${tc.handle.apiUrl}${path}`, {
        method: 'POST',
        headers: { ...tc.auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    const id = parseDeviceId('cu-1');
    const secret = (await post('/v1/devices', { id, chip: 'bm1684x' })).body.secret as string;
    const bundle = await makeSignedBundle(tc.dataDir);
    t.equal((await post('/v1/bundles', { dir: bundle.dir })).status, 201, 'bundle pushed');
    t.equal(
      (await post(`/v1/devices/${id}/assignment`, { bundle: bundle.digest })).status,
      202,
      'assigned while the device is away',
    );

    // The broker loses the retained copy.
    const topic = deviceTopic('assignment', id);
    const admin = await mqtt.connectAsync(tc.handle.brokerUrl, {
      clientId: `${CONTROLLER_USERNAME}-test`,
      username: CONTROLLER_USERNAME,
      password: (await readFile(join(tc.dataDir, 'controller-secret'), 'utf8')).trim(),
      protocolVersion: 4,
    });
    t.teardown(() => admin.endAsync(true));
    await admin.publishAsync(topic, Buffer.alloc(0), { qos: 1, retain: true });

    const device = await mqtt.connectAsync(tc.handle.brokerUrl, {
      clientId: id,
      username: id,
      password: secret,
      protocolVersion: 4,
      clean: true, // no session: nothing queued for it
    });
    t.teardown(() => device.endAsync(true));
    const copies: { retained: boolean; sequence: number; digest: string }[] = [];
    device.on('message', (_topic, payload, packet) => {
      const { envelope } = decodeMessage('SignedAssignment', new Uint8Array(payload));
      const doc = JSON.parse(Buffer.from(envelope).toString()) as {
        signed: { sequence: number; variants: { bundle: { digest: string } }[] };
      };
      copies.push({
        retained: packet.retain,
        sequence: doc.signed.sequence,
        digest: doc.signed.variants[0]!.bundle.digest,
      });
    });
    await device.subscribeAsync(topic, { qos: 1 });
    const report = (assignmentSequence: number) =>
      device.publishAsync(
        deviceTopic('state', id),
        Buffer.from(
          encodeMessage('DeviceState', {
            deviceId: id,
            active: [],
            lastKnownGood: [],
            assignmentSequence,
            status: 'idle',
            lastErrorCode: '',
            uptimeMs: 1000,
            timeMs: Date.now(),
          }),
        ),
        { qos: 1, retain: true },
      );
    // Subscribed (SUBACK received) and nothing came: the broker holds no copy.
    t.same(copies, [], 'no retained copy, no queued one');

    await report(0);
    await waitFor('the catch-up copy', () => copies.length > 0, 20_000);
    t.same(
      copies[0],
      { retained: false, sequence: 1, digest: bundle.digest },
      'the persisted assignment, sent live to the subscription after the report',
    );
  },
);
