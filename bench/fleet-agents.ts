// Real-agent fleet benchmark: roll the Fashion-MNIST FP32 simulator bundle (built as the demo
// builds it, demo/models.ts) out to N real agents (simulate/: the agent program, simulator
// runtime, modeled timing) in P processes through the real controller and embedded broker, and
// time rollout create -> every agent serving it (reported over IPC) and -> the controller's
// rollout `completed`; RSS of each agent process at rest and at its peak during the rollout.
// Baseline in the same run: the same rollout to N lightweight wire-protocol devices
// (simulate/wire-devices), which fetch and verify every byte but load no model.
// Env: BMF_FLEET_AGENTS (50,100), BMF_FLEET_PROCESSES (2).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startFleet } from '../simulate/wire-devices/fleet.js';
import type { ProcessMemory } from '../simulate/wire-devices/processes.js';
import { startBenchController } from '../harness/controller/bench-controller.js';
import { createKeystore } from '../shared/trust/keystore.js';
import { buildFp32Bundle } from '../demo/models.js';
import { startAgentFleet } from '../simulate/fleet.js';

const mib = (b: number) => `${(b / 1048576).toFixed(0)} MiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Highest RSS per process seen until stop(), asked every 250 ms. */
function samplePeaks(memory: () => Promise<ProcessMemory[]>): { stop(): Promise<number[]> } {
  const peak = new Map<number, number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const m of await memory()) peak.set(m.pid, Math.max(peak.get(m.pid) ?? 0, m.rss));
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return [...peak.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
    },
  };
}

export async function run(): Promise<void> {
  const sizes = (process.env.BMF_FLEET_AGENTS ?? '50,100').split(',').map(Number);
  const processes = Number(process.env.BMF_FLEET_PROCESSES ?? 2);
  const { ctl, dataDir, token, headers } = await startBenchController('bmf-bench-agents-ctl-');
  const call = async (method: string, path: string, body?: unknown) =>
    (await (
      await fetch(`${ctl.apiUrl}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      })
    ).json()) as Record<string, unknown>;

  /** When each device reported the bundle active, in ms after the rollout create. */
  const activeAt: number[] = [];
  let t0 = 0;
  const onActive = () => void activeAt.push(performance.now() - t0);
  const spread = () => {
    const q = (p: number) =>
      secs(activeAt.sort((a, b) => a - b)[Math.floor(p * (activeAt.length - 1))] ?? NaN);
    return `first ${q(0)}, median ${q(0.5)}, last ${q(1)}`;
  };

  /** Rollout create -> [all devices active over IPC, rollout completed], in ms. */
  async function rollOut(
    bundle: string,
    tag: string,
    allActive: (b: string) => Promise<void>,
  ): Promise<[number, number]> {
    activeAt.length = 0;
    t0 = performance.now();
    const devicesDone = allActive(bundle).then(() => performance.now() - t0);
    const rollout = await call('POST', '/v1/rollouts', {
      bundle,
      filter: { tags: { bench: tag } },
      maxStartsPerMinute: 1_000_000,
      deviceTimeoutMs: 600_000,
    });
    for (;;) {
      const st = (await call('GET', `/v1/rollouts/${String(rollout.id)}`)).status;
      if (st === 'completed') break;
      if (st !== 'running') throw new Error(`rollout ${String(rollout.id)} is ${String(st)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const completedMs = performance.now() - t0;
    return [await devicesDone, completedMs];
  }

  try {
    const { dir } = await buildFp32Bundle({
      workDir: join(dataDir, 'build'),
      signers: await createKeystore(join(dataDir, 'keys')).signers('bundle'),
      chip: 'bm1684x',
      now: new Date(),
    });
    const bundle = String((await call('POST', '/v1/bundles', { dir })).digest);
    console.log(
      `fleet-agents: Fashion-MNIST FP32 simulator bundle ${bundle.slice(0, 12)}, ${processes} processes; ` +
        `real = the agent program (simulator runtime, modeled timing, one state dir each), ` +
        `light = simulate/wire-devices wire-protocol devices`,
    );
    for (const n of sizes) {
      const s0 = performance.now();
      const real = await startAgentFleet({
        controllerUrl: ctl.apiUrl,
        token,
        devices: n,
        processes,
        prefix: `real${n}`,
        tags: { bench: `real${n}` },
        onActive,
      });
      const startMs = performance.now() - s0;
      const rest = (await real.memory()).map((m) => m.rss);
      const peaks = samplePeaks(() => real.memory());
      const [realActive, realCompleted] = await rollOut(bundle, `real${n}`, real.allActive);
      const realSpread = spread();
      const peak = await peaks.stop();
      const after = await real.memory();
      await real.stop();

      const light = await startFleet({
        controllerUrl: ctl.apiUrl,
        token,
        devices: n,
        processes,
        prefix: `light${n}`,
        tags: { bench: `light${n}` },
        onActive,
      });
      const lightRest = (await light.memory()).map((m) => m.rss);
      const [lightActive, lightCompleted] = await rollOut(bundle, `light${n}`, light.allActive);
      const lightSpread = spread();
      await light.stop();

      console.log(
        `  ${n} real agents: started (enrolled + running) in ${secs(startMs)}; rollout create -> all ` +
          `active ${secs(realActive)} (${realSpread}), -> completed ${secs(realCompleted)}; RSS per process at rest ` +
          `${rest.map(mib).join(', ')}, peak ${peak.map(mib).join(', ')}, after ` +
          `${after.map((m) => mib(m.rss)).join(', ')} (${(after.reduce((a, m) => a + m.rss, 0) / n / 1048576).toFixed(1)} MiB of RSS per agent, whole processes included); ` +
          `sessions ${after.map((m) => `${m.sessions?.open ?? 0} open/${m.sessions?.refs ?? 0} refs`).join(', ')}`,
      );
      console.log(
        `  ${n} light devices: rollout create -> all active ${secs(lightActive)} (${lightSpread}), -> completed ` +
          `${secs(lightCompleted)}; RSS per process ${lightRest.map(mib).join(', ')}; ` +
          `real/light time to all active ${(realActive / lightActive).toFixed(2)}x`,
      );
    }
  } finally {
    await ctl.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
