// The long fault-injection round of issue 17, controller side (`npm run bench -- chaos`): the
// controller killed with SIGKILL under telemetry load many times, broker outages, and the
// pre-authentication and oversized floods; prints kill trials, reports sent vs stored and the
// controller's peak RSS under each flood. Goal figures: 0 reports lost across controller kills,
// RSS growth <= 64 MiB under pre-auth floods. Seeded (BMFLEET_CHAOS_SEED replays a run); sizes
// from BMF_BENCH_CHAOS_KILLS (default 20), BMF_BENCH_CHAOS_OUTAGES (5),
// BMF_BENCH_CHAOS_DEVICES (4), BMF_BENCH_CHAOS_FLOOD_CONNECTIONS (8).
import {
  chaosController,
  chaosSeed,
  controllerKillTrials,
  MiB,
  runFloods,
} from '../harness/controller/chaos.js';

const KILLS = Number(process.env.BMF_BENCH_CHAOS_KILLS ?? 20);
const OUTAGES = Number(process.env.BMF_BENCH_CHAOS_OUTAGES ?? 5);
const DEVICES = Number(process.env.BMF_BENCH_CHAOS_DEVICES ?? 4);
const FLOOD_CONNECTIONS = Number(process.env.BMF_BENCH_CHAOS_FLOOD_CONNECTIONS ?? 8);

export async function run(): Promise<void> {
  const { random } = chaosSeed();

  const kills = await controllerKillTrials({ kills: KILLS, devices: DEVICES, random });
  console.log(
    `controller kill -9 trials: ${kills.kills}; reports sent ${kills.sent.reports} (${kills.sent.requests} requests), stored ${kills.stored.requests} requests; lost ${kills.lost}, stored twice ${kills.doubled} (goal 0 lost)`,
  );

  const outages = await controllerKillTrials({
    kills: OUTAGES,
    devices: DEVICES,
    random,
    mode: 'outage',
  });
  console.log(
    `broker outages: ${outages.kills}; reports sent ${outages.sent.reports} (${outages.sent.requests} requests), stored ${outages.stored.requests} requests; lost ${outages.lost}, stored twice ${outages.doubled}`,
  );

  const ctl = await chaosController();
  try {
    await ctl.start();
    const floods = await runFloods(ctl, {
      connections: FLOOD_CONNECTIONS,
      declared: 100_000_000,
      random,
    });
    for (const f of floods) {
      const growth = (f.peakRss - f.baseRss) / MiB;
      console.log(
        `flood ${f.name}: ${f.connections} connections x ${f.declaredBytes / 1e6} MB declared, ${f.closedEarly} closed by the controller; RSS ${(f.baseRss / MiB).toFixed(0)} MiB -> peak ${(f.peakRss / MiB).toFixed(0)} MiB (growth ${growth.toFixed(1)} MiB, goal <= 64)`,
      );
    }
  } finally {
    const p = ctl.current();
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  }
}
