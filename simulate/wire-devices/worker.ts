// One simulator process: runs its share of simulated devices and reports to the parent over
// IPC (fleet.ts). Baseline mode (for the fleet benchmark): one more connection per device
// subscribes to one topic, and the process reports when all of them received the expected bytes.
import mqtt, { type MqttClient } from 'mqtt';
import { startSimDevice, type SimDevice } from './sim-device.js';
import { memoryMessage, type ParentMessage, type WorkerMessage } from './protocol.js';

const send = (m: WorkerMessage) => process.send?.(m);
const devices: SimDevice[] = [];
/** The fleet benchmark's baseline subscribers, ended once they have everything. */
const baselineClients: MqttClient[] = [];
let brokerUrl = '';
const filesOf = new Map<string, Promise<readonly string[]>>();

async function bundleFiles(apiUrl: string, token: string, digest: string) {
  let p = filesOf.get(digest);
  if (!p) {
    p = fetch(`${apiUrl}/v1/bundles/${digest}`, { headers: { authorization: `Bearer ${token}` } })
      .then((r) => r.json() as Promise<{ files?: { sha256: string }[] }>)
      .then((b) => (b.files ?? []).map((f) => f.sha256));
    p.catch(() => filesOf.delete(digest)); // asked again on the next try
    filesOf.set(digest, p);
  }
  return p;
}

/**
 * A connect that timed out, or a device that never got to report (its subscription neither
 * granted nor refused within the start timeout): the device connects again after a pause. A
 * refused subscription is asked again by the device itself (agent/sync/connection-rules.ts).
 */
async function startWithRetry(o: Parameters<typeof startSimDevice>[0]): Promise<SimDevice> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSimDevice(o);
    } catch (e) {
      if (attempt >= 5) throw e;
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
}

async function start(m: Extract<ParentMessage, { type: 'start' }>): Promise<void> {
  brokerUrl = m.brokerUrl;
  const batch = 50;
  for (let i = 0; i < m.devices.length; i += batch) {
    const started = await Promise.all(
      m.devices.slice(i, i + batch).map((d) =>
        startWithRetry({
          brokerUrl: m.brokerUrl,
          failoverUrls: m.failoverUrls,
          id: d.id,
          secret: d.secret,
          bundleFiles: (digest) => bundleFiles(m.apiUrl, m.token, digest),
          onActive: (id, bundle) => send({ type: 'active', id, bundle }),
        }),
      ),
    );
    devices.push(...started);
    send({ type: 'started', devices: devices.length });
  }
  send({ type: 'ready', devices: devices.length });
}

async function baseline(m: Extract<ParentMessage, { type: 'baseline' }>): Promise<void> {
  let complete = 0;
  const count = devices.length;
  const clients = await Promise.all(
    devices.map(async (_, i) => {
      const c = await mqtt.connectAsync(brokerUrl, {
        clientId: `${m.subscriber.clientIdPrefix}-${process.pid}-${i}`,
        username: m.subscriber.username,
        password: m.subscriber.password,
        protocolVersion: 4,
        reconnectPeriod: 0,
      });
      let got = 0;
      c.on('message', (t, payload) => {
        if (t !== m.topic) return;
        got += payload.byteLength;
        if (got >= m.bytes && got - payload.byteLength < m.bytes && ++complete === count) {
          send({ type: 'baselineDone' });
          void Promise.all(baselineClients.map((b) => b.endAsync()));
        }
      });
      // A refused subscription is a SUBACK 0x80, not an error: said, or the bench waits forever.
      const [granted] = await c.subscribeAsync(m.topic, { qos: 0 });
      if (!granted || granted.qos === 0x80)
        throw new Error(`baseline subscription to ${m.topic} refused`);
      return c;
    }),
  );
  baselineClients.push(...clients);
  send({ type: 'baselineReady' });
}

process.on('message', (m: ParentMessage) => {
  if (m.type === 'start')
    void start(m).catch((e: Error) => send({ type: 'error', message: e.message }));
  else if (m.type === 'baseline')
    void baseline(m).catch((e: Error) => send({ type: 'error', message: e.message }));
  else if (m.type === 'memory') send(memoryMessage());
  else if (m.type === 'stop')
    void Promise.all([
      ...devices.map((d) => d.close()),
      ...baselineClients.map((c) => c.endAsync()),
    ]).finally(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
