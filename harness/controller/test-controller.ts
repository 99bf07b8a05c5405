// Test helpers: a real controller (embedded broker, SQLite, keys, API) on ephemeral ports in a
// temp dir, real signed bundles made with its own keys, and fake devices that speak the wire
// protocol with real mqtt.js clients (report the assigned bundle as active).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import type { Test } from 'tap';
import { buildBundle } from '../../shared/bundle/build.js';
import { isVariantName, parseDeviceId, parseDigest } from '../../shared/ids.js';
import { signBundleDir } from '../../shared/bundle/dir.js';
import { createKeystore } from '../../shared/trust/keystore.js';
import { decodeMessage, encodeMessage } from '../../shared/wire/codec.js';
import { deviceTopic } from '../../shared/wire/topics.js';
import { loadControllerConfig } from '../../controller/config.js';
import { startController, type ControllerHandle } from '../../controller/main.js';

export const FIXTURES = new URL('../../test/fixtures/controller/api/', import.meta.url).pathname;

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A TCP port free on 127.0.0.1 right now (for processes that cannot listen on port 0). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

export interface TestController {
  readonly handle: ControllerHandle;
  readonly dataDir: string;
  readonly token: string;
  readonly auth: { authorization: string };
}

/** Keys first (so the test can sign bundles with them), then the controller on port 0. */
export async function startTestController(
  dataDir?: string,
  flags: Record<string, unknown> = {},
): Promise<TestController> {
  const dir = dataDir ?? (await tempDir('bmf-ctl-'));
  const keys = createKeystore(join(dir, 'keys'));
  await keys.readRootJson().catch(async () => {
    await mkdir(dir, { recursive: true });
    await keys.init({ now: new Date() });
  });
  const config = loadControllerConfig({
    flags: {
      dataDir: dir,
      'api.port': 0,
      'broker.embedded.port': 0,
      'rollout.tickMs': 50,
      'api.bodyLimitBytes': 64 * 1024,
      ...flags,
    },
  });
  const handle = await startController(config, { logger: pino({ level: 'silent' }) });
  const token =
    handle.generatedToken ?? (await readFile(join(dir, 'operator-token'), 'utf8')).trim();
  return { handle, dataDir: dir, token, auth: { authorization: `Bearer ${token}` } };
}

/** A signed bundle dir made with the controller's own bundle key. */
export async function makeSignedBundle(
  dataDir: string,
  over: { version?: string; sequence?: number; bytes?: number } = {},
): Promise<{ dir: string; digest: string }> {
  const partial = JSON.parse(
    await readFile(join(FIXTURES, 'partial-manifest.json'), 'utf8'),
  ) as Record<string, unknown>;
  if (over.version) partial.version = over.version;
  if (over.sequence) partial.sequence = over.sequence;
  const work = await tempDir('bmf-bundle-');
  const src = join(work, 'model.bmodel');
  await writeFile(src, randomBytes(over.bytes ?? 50_000));
  const out = join(work, 'bundle');
  await buildBundle({
    files: [{ role: 'bmodel', source: src }],
    partial,
    outDir: out,
    now: new Date(),
  });
  const keys = createKeystore(join(dataDir, 'keys'));
  const { digest } = await signBundleDir(out, await keys.signers('bundle'));
  return { dir: out, digest };
}

export interface FakeDevice {
  readonly client: MqttClient;
  /** Assigned bundle digests in arrival order. */
  readonly assigned: string[];
  close(): Promise<void>;
}

/**
 * A device that reports whatever it is assigned as active (no download): enough for the
 * controller's rollout loop, which judges devices by their reported state.
 */
export async function connectFakeDevice(
  brokerUrl: string,
  id: string,
  secret: string,
): Promise<FakeDevice> {
  const client = await mqtt.connectAsync(brokerUrl, {
    clientId: id,
    username: id,
    password: secret,
    protocolVersion: 4,
    reconnectPeriod: 200,
  });
  const assigned: string[] = [];
  client.on('message', (_topic, payload) => {
    const { envelope } = decodeMessage('SignedAssignment', new Uint8Array(payload));
    const doc = JSON.parse(Buffer.from(envelope).toString('utf8')) as {
      signed: {
        sequence: number;
        variants: { name: string; bundle: { digest: string; sequence: number } }[];
      };
    };
    const v = doc.signed.variants[0];
    if (!v || !isVariantName(v.name)) return;
    assigned.push(v.bundle.digest);
    const state = encodeMessage('DeviceState', {
      deviceId: parseDeviceId(id),
      active: [
        {
          variant: v.name,
          bundleDigest: parseDigest(v.bundle.digest),
          bundleSequence: v.bundle.sequence,
        },
      ],
      lastKnownGood: [],
      assignmentSequence: doc.signed.sequence,
      status: 'active',
      lastErrorCode: '',
      uptimeMs: 1000,
      timeMs: Date.now(),
    });
    void client.publishAsync(deviceTopic('state', id), Buffer.from(state), {
      qos: 1,
      retain: true,
    });
  });
  try {
    await client.subscribeAsync(deviceTopic('assignment', id), { qos: 1 });
  } catch (e) {
    await client.endAsync(true);
    throw e;
  }
  return { client, assigned, close: () => client.endAsync() };
}

/** The controller's REST API as the operator calls it (JSON bodies, the operator token). */
export interface TestApi {
  post(
    path: string,
    body: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> & { error?: { code: string } } }>;
  get(path: string): Promise<Record<string, unknown>>;
}

export function testApi(ctl: TestController): TestApi {
  const base = ctl.handle.apiUrl;
  const headers = { ...ctl.auth, 'content-type': 'application/json' };
  return {
    async post(path, body) {
      const r = await fetch(`${base}${path}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    },
    async get(path) {
      return (await (await fetch(`${base}${path}`, { headers: ctl.auth })).json()) as Record<
        string,
        unknown
      >;
    },
  };
}

/**
 * Enrol each id over the API (chip bm1684x, `tags`) and connect it as a fake device to
 * `brokerUrl(i)`; every device connected is closed when the test ends, also when a later one fails.
 */
export async function enrolFakeDevices(
  t: Test,
  api: TestApi,
  ids: readonly string[],
  o: { readonly tags: Record<string, string>; readonly brokerUrl: (i: number) => string },
): Promise<FakeDevice[]> {
  const devices: FakeDevice[] = [];
  t.teardown(() => Promise.all(devices.map((d) => d.close())));
  for (const [i, id] of ids.entries()) {
    const r = await api.post('/v1/devices', { id, chip: 'bm1684x', tags: o.tags });
    if (r.status !== 201) throw new Error(`enrolling ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    devices.push(await connectFakeDevice(o.brokerUrl(i), id, r.body.secret as string));
  }
  return devices;
}
