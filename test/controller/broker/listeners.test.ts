// The embedded broker's optional TLS and WebSocket listeners, with real clients: the same
// authentication and ACLs apply on every listener.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '../../../controller/broker/embedded.js';
import { deviceTopic } from '../../../shared/wire/topics.js';

let openssl = true;
try {
  execFileSync('openssl', ['version'], { stdio: 'ignore' });
} catch {
  openssl = false;
}

t.test(
  'TLS and WebSocket listeners authenticate devices like TCP',
  { skip: openssl ? false : 'openssl not installed (needed to make a test certificate)' },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'bmf-tls-'));
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const broker = await startEmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      tls: { port: 0, certFile, keyFile },
      wsPort: 0,
      controllerSecret: 'c',
      authenticateDevice: (id, s) => id === 'dev-1' && s === 'pw',
    });
    t.teardown(() => broker.close());
    t.ok(broker.tlsPort && broker.wsPort, 'both listeners bound');
    const ca = readFileSync(certFile);

    const tls = await mqtt.connectAsync(`mqtts://127.0.0.1:${broker.tlsPort}`, {
      clientId: 'dev-1',
      username: 'dev-1',
      password: 'pw',
      protocolVersion: 4,
      ca,
      reconnectPeriod: 0,
    });
    const granted = await tls.subscribeAsync(deviceTopic('assignment', 'dev-1'), { qos: 1 });
    t.equal(granted[0]?.qos, 1, 'TLS client subscribes to its own assignment');
    await tls.endAsync();

    const ws = await mqtt.connectAsync(`ws://127.0.0.1:${broker.wsPort}`, {
      clientId: 'dev-1',
      username: 'dev-1',
      password: 'pw',
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    const refused = await ws.subscribeAsync(deviceTopic('assignment', 'dev-2'), { qos: 1 }).then(
      (g) => g[0]?.qos,
      (e: { packet?: { granted?: number[] } }) => e.packet?.granted?.[0],
    );
    t.equal(refused, 128, 'WebSocket client gets the same ACL');
    await ws.endAsync();

    await t.rejects(
      mqtt.connectAsync(`ws://127.0.0.1:${broker.wsPort}`, {
        clientId: 'dev-1',
        username: 'dev-1',
        password: 'wrong',
        protocolVersion: 4,
        reconnectPeriod: 0,
      }),
      'a bad secret is refused over WebSocket',
    );
    await t.rejects(
      mqtt.connectAsync(`mqtts://127.0.0.1:${broker.tlsPort}`, {
        clientId: 'dev-1',
        username: 'dev-1',
        password: 'pw',
        protocolVersion: 4,
        reconnectPeriod: 0,
        rejectUnauthorized: true,
      }),
      'a client that does not trust the certificate does not connect',
    );
  },
);
