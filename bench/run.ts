// Benchmark runner: `npm run bench -- <name>`. Each benchmark prints its figures and the ratio
// against a baseline measured in the same run.
const benches: Record<string, () => Promise<{ run: () => Promise<void> }>> = {
  preprocess: () => import('./preprocess.js'),
  bundle: () => import('./bundle.js'),
  calibrate: () => import('./calibrate.js'),
  agent: () => import('./agent.js'),
  fleet: () => import('./fleet.js'),
  'fleet-agents': () => import('./fleet-agents.js'),
  telemetry: () => import('./telemetry.js'),
  'outgoing-queue': () => import('./outgoing-queue.js'),
  'experiment-looks': () => import('./experiment-looks.js'),
  bmrt: () => import('./bmrt.js'),
  detect: () => import('./detect.js'),
  chaos: () => import('./chaos.js'),
  'chaos-agent': () => import('./chaos-agent.js'),
  'cost-fit': () => import('./cost-fit.js'),
  dashboard: () => import('./dashboard.js'),
  cluster: () => import('./cluster.js'),
  'nats-users': () => import('./nats-users.js'),
  'nats-connect': () => import('./nats-connect.js'),
  'sim-precision': () => import('./sim-precision.js'),
};

const name = process.argv[2];
if (!name || !benches[name]) {
  console.log(
    `usage: npm run bench -- <name>\nbenchmarks: ${Object.keys(benches).join(', ') || '(none yet)'}`,
  );
  process.exitCode = name ? 2 : 0;
} else {
  const mod = await benches[name]();
  await mod.run();
}
