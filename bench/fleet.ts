// Fleet benchmark (issue 5): rollout of a 4 MiB bundle to N simulated devices (500 by default)
// through the real controller and embedded broker, against the physical limit measured in the
// same run: a plain mqtt.js publisher sending the same bytes, in the same chunk size, once on a
// topic all N devices subscribe to. Then the controller's RSS with 1,000 connected devices.
// Simulated devices run in child processes so the RSS figure is the controller's own.
// Env: BMF_FLEET_DEVICES (500), BMF_FLEET_RSS_DEVICES (1000), BMF_FLEET_PROCESSES (2).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { buildBundle } from '../shared/bundle/build.js';
import { signBundleDir } from '../shared/bundle/dir.js';
import { createKeystore } from '../shared/trust/keystore.js';
import { CONTROLLER_USERNAME } from '../controller/broker/acl.js';
import { loadControllerConfig } from '../controller/config.js';
import { DEFAULT_CHUNK_SIZE } from '../controller/distribution/blobs.js';
import { startFleet } from '../controller/fleet/fleet.js';
import { startController } from '../controller/main.js';

const BUNDLE_BYTES = 4 * 1024 * 1024;
const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

async function signedBundle(dataDir: string): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'bmf-bench-bundle-'));
  const src = join(work, 'model.bmodel');
  await writeFile(src, randomBytes(BUNDLE_BYTES));
  const out = join(work, 'bundle');
  await buildBundle({
    files: [{ role: 'bmodel', source: src }],
    partial: {
      name: 'bench-fleet',
      version: '1.0.0',
      sequence: 1,
      chips: ['bm1684x'],
      precision: 'int8',
      runtime: 'sim',
      outputs: { topK: 1 },
      provenance: {
        sourceModelSha256: '6'.repeat(64),
        toolchain: 'bmfleet-sim',
        toolchainVersion: '0.1.0',
      },
    },
    outDir: out,
    now: new Date(),
  });
  await signBundleDir(out, await createKeystore(join(dataDir, 'keys')).signers('bundle'));
  return out;
}

export async function run(): Promise<void> {
  const n = env('BMF_FLEET_DEVICES', 500);
  const rssDevices = env('BMF_FLEET_RSS_DEVICES', 1000);
  const processes = env('BMF_FLEET_PROCESSES', 2);
  const dataDir = await mkdtemp(join(tmpdir(), 'bmf-bench-fleet-'));
  await createKeystore(join(dataDir, 'keys')).init({ now: new Date() });
  const config = loadControllerConfig({
    flags: { dataDir, 'api.port': 0, 'broker.embedded.port': 0, 'rollout.tickMs': 200 },
  });
  const ctl = await startController(config, { logger: pino({ level: 'warn' }) });
  const token =
    ctl.generatedToken ?? (await readFile(join(dataDir, 'operator-token'), 'utf8')).trim();
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const post = async (path: string, body: unknown) =>
    (await (
      await fetch(`${ctl.apiUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) })
    ).json()) as Record<string, unknown>;

  try {
    const bundle = (await post('/v1/bundles', { dir: await signedBundle(dataDir) }))
      .digest as string;
    console.log(
      `fleet: ${n} simulated devices in ${processes} processes (lightweight wire-protocol devices)`,
    );
    const fleet = await startFleet({
      controllerUrl: ctl.apiUrl,
      token,
      devices: n,
      processes,
      tags: { bench: 'a' },
    });

    // Baseline: the same bytes in the same chunks, published once to all n subscribers.
    const chunks = Math.ceil(BUNDLE_BYTES / DEFAULT_CHUNK_SIZE);
    const topic = `bmf/v1/blob/${'f'.repeat(64)}/chunk`;
    const pub = await mqtt.connectAsync(ctl.brokerUrl, {
      clientId: `${CONTROLLER_USERNAME}-bench`,
      username: CONTROLLER_USERNAME,
      password: (await readFile(join(dataDir, 'controller-secret'), 'utf8')).trim(),
      protocolVersion: 4,
    });
    const payload = randomBytes(DEFAULT_CHUNK_SIZE);
    const { done } = await fleet.baselineSubscribe(topic, chunks * DEFAULT_CHUNK_SIZE);
    const t0 = performance.now();
    for (let i = 0; i < chunks; i++) await pub.publishAsync(topic, payload, { qos: 0 });
    await done;
    const baselineMs = performance.now() - t0;
    await pub.endAsync();

    // The rollout: create -> every device has fetched, verified and reports the bundle active.
    const t1 = performance.now();
    await post('/v1/rollouts', {
      bundle,
      filter: { tags: { bench: 'a' } },
      maxStartsPerMinute: 1_000_000,
      deviceTimeoutMs: 600_000,
    });
    await fleet.allActive(bundle);
    const rolloutMs = performance.now() - t1;
    const s = ctl.blobStats();
    const sent = s.broadcast.bytes + s.perDevice.bytes;
    const perDeviceDelivery = n * BUNDLE_BYTES;
    console.log(
      `baseline (plain mqtt.js publish of ${mib(BUNDLE_BYTES)} to ${n} subscribers): ${baselineMs.toFixed(0)} ms`,
    );
    console.log(
      `rollout of a ${mib(BUNDLE_BYTES)} bundle until all ${n} active: ${rolloutMs.toFixed(0)} ms`,
    );
    console.log(`ratio rollout/baseline: ${(rolloutMs / baselineMs).toFixed(2)} (target <= 2)`);
    console.log(
      `bytes into the broker: ${mib(sent)} (broadcast ${mib(s.broadcast.bytes)} in ${s.broadcast.runs} run(s), per-device repair ${mib(s.perDevice.bytes)}); ` +
        `per-device delivery would send >= ${mib(perDeviceDelivery)} (computed: ${n} x bundle): ${(perDeviceDelivery / sent).toFixed(1)}x more`,
    );

    // RSS with rssDevices connected devices.
    const more = Math.max(0, rssDevices - n);
    const fleet2 = more
      ? await startFleet({
          controllerUrl: ctl.apiUrl,
          token,
          devices: more,
          processes,
          offset: n,
          tags: { bench: 'b' },
        })
      : undefined;
    await new Promise((r) => setTimeout(r, 3000));
    const online = (
      (await (await fetch(`${ctl.apiUrl}/v1/devices`, { headers })).json()) as {
        devices: { online: boolean }[];
      }
    ).devices.filter((d) => d.online).length;
    const rss = process.memoryUsage().rss;
    console.log(`controller RSS with ${online} connected devices: ${mib(rss)} (target <= 400 MiB)`);
    await fleet2?.stop();
    await fleet.stop();
  } finally {
    await ctl.stop();
  }
}
