// Fleet benchmark (issue 5): rollout of a 4 MiB bundle to N simulated devices (500 by default)
// through the real controller and embedded broker, against the physical limit measured in the
// same run: a plain mqtt.js publisher sending the same bytes, in the same chunk size, once on a
// topic N subscribers in the devices' processes subscribe to. The rollout time ends when the controller reports the
// rollout completed (every device reported the bundle active), polled every 50 ms. Then the
// RSS of the process running the controller with 1,000 connected devices. The devices are the
// lightweight wire-protocol devices of simulate/wire-devices (not the agent program), in child
// processes, so this process holds the controller and only the bench's small fleet parent.
// Env: BMF_FLEET_DEVICES (500), BMF_FLEET_RSS_DEVICES (1000), BMF_FLEET_PROCESSES (2).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { buildBundle } from '../shared/bundle/build.js';
import { signBundleDir } from '../shared/bundle/dir.js';
import { createKeystore } from '../shared/trust/keystore.js';
import { CONTROLLER_USERNAME } from '../controller/broker/acl.js';
import { DEFAULT_CHUNK_SIZE } from '../controller/distribution/blobs.js';
import { broadcastChunkTopic } from '../shared/wire/topics.js';
import { startFleet } from '../simulate/wire-devices/fleet.js';
import { startBenchController } from '../harness/controller/bench-controller.js';

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

/** The highest RSS seen until stop(), sampled every 100 ms. */
function sampleRss(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

export async function run(): Promise<void> {
  const n = env('BMF_FLEET_DEVICES', 500);
  const rssDevices = env('BMF_FLEET_RSS_DEVICES', 1000);
  const processes = env('BMF_FLEET_PROCESSES', 2);
  const { ctl, dataDir, token, headers } = await startBenchController('bmf-bench-fleet-');
  const post = async (path: string, body: unknown) =>
    (await (
      await fetch(`${ctl.apiUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) })
    ).json()) as Record<string, unknown>;

  try {
    const bundle = (await post('/v1/bundles', { dir: await signedBundle(dataDir) }))
      .digest as string;
    console.log(
      `fleet: ${n} simulated devices in ${processes} processes: lightweight wire-protocol stand-ins ` +
        `(simulate/wire-devices/sim-device.ts), not the agent program; devices in one process share the ` +
        `sha256 check of identical chunk bytes`,
    );
    const fleet = await startFleet({
      controllerUrl: ctl.apiUrl,
      token,
      devices: n,
      processes,
      tags: { bench: 'a' },
    });

    // Baseline: the same bytes in the same chunks, published once to n subscribers in the
    // device processes. They connect as the controller: the broker gives a device a blob's
    // chunks only when the blob is in its assignment, and this topic names no real blob.
    const chunks = Math.ceil(BUNDLE_BYTES / DEFAULT_CHUNK_SIZE);
    const topic = broadcastChunkTopic('f'.repeat(64));
    const controllerSecret = (await readFile(join(dataDir, 'controller-secret'), 'utf8')).trim();
    const pub = await mqtt.connectAsync(ctl.brokerUrl, {
      clientId: `${CONTROLLER_USERNAME}-bench`,
      username: CONTROLLER_USERNAME,
      password: controllerSecret,
      protocolVersion: 4,
    });
    const payload = randomBytes(DEFAULT_CHUNK_SIZE);
    const { done } = await fleet.baselineSubscribe(topic, chunks * DEFAULT_CHUNK_SIZE, {
      username: CONTROLLER_USERNAME,
      password: controllerSecret,
      clientIdPrefix: `${CONTROLLER_USERNAME}-bench-baseline`,
    });
    const t0 = performance.now();
    for (let i = 0; i < chunks; i++) await pub.publishAsync(topic, payload, { qos: 0 });
    await done;
    const baselineMs = performance.now() - t0;
    await pub.endAsync();

    // The rollout: create -> every device has fetched and verified the bundle and reported it
    // active, and the controller has seen that (rollout status `completed`, polled).
    const rss = sampleRss();
    const t1 = performance.now();
    // Devices report over IPC once their state publish is acknowledged, which may come after
    // the controller has seen every state.
    const devicesDone = fleet.allActive(bundle).then(() => performance.now() - t1);
    const rollout = await post('/v1/rollouts', {
      bundle,
      filter: { tags: { bench: 'a' } },
      maxStartsPerMinute: 1_000_000,
      deviceTimeoutMs: 600_000,
    });
    const status = async () =>
      (
        (await (
          await fetch(`${ctl.apiUrl}/v1/rollouts/${String(rollout.id)}`, { headers })
        ).json()) as {
          status: string;
        }
      ).status;
    for (let st = await status(); st !== 'completed'; st = await status()) {
      if (st !== 'running') throw new Error(`rollout ${String(rollout.id)} is ${st}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const rolloutMs = performance.now() - t1;
    const devicesMs = await devicesDone;
    const peakRss = rss.stop();
    const s = ctl.blobStats();
    const sent = s.broadcast.bytes + s.perDevice.bytes;
    const perDeviceDelivery = n * BUNDLE_BYTES;
    console.log(
      `baseline (plain mqtt.js publish of ${mib(BUNDLE_BYTES)} to ${n} subscribers): ${baselineMs.toFixed(0)} ms`,
    );
    console.log(
      `rollout of a ${mib(BUNDLE_BYTES)} bundle until the controller has all ${n} active (rollout completed): ${rolloutMs.toFixed(0)} ms ` +
        `(last device reported active after ${devicesMs.toFixed(0)} ms)`,
    );
    console.log(`ratio rollout/baseline: ${(rolloutMs / baselineMs).toFixed(2)} (target <= 2)`);
    console.log(
      `bytes into the broker: ${mib(sent)} (broadcast ${mib(s.broadcast.bytes)} in ${s.broadcast.runs} run(s), per-device ${mib(s.perDevice.bytes)}; ${s.broadcast.participants} participants, ${s.coveredByBroadcast} chunk requests left to broadcast); ` +
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
    const m = process.memoryUsage();
    console.log(
      `controller process RSS with ${online} connected devices: ${mib(m.rss)} (target <= 400 MiB; ` +
        `heap ${mib(m.heapUsed)}, buffers ${mib(m.arrayBuffers)}; peak during the rollout ${mib(peakRss)}). ` +
        `This process runs the controller (broker, store, API) and the bench's fleet parent; the devices run in child processes.`,
    );
    await fleet2?.stop();
    await fleet.stop();
  } finally {
    await ctl.stop();
  }
}
