// `npm run demo`: README's first command. Runs the whole flow on the embedded defaults and
// exits 0 only when every step truly happened.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runDemo, type DemoReporter } from './run.js';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '20' },
    'data-dir': { type: 'string' },
    // At most: the experiment ends as soon as a winner is promotable (usually well before).
    'experiment-seconds': { type: 'string', default: '300' },
    rps: { type: 'string', default: '8' },
    keep: { type: 'boolean', default: false },
    // fashion-mnist (default) or detect (the shapes detector, examples/shapes-detector).
    model: { type: 'string', default: 'fashion-mnist' },
  },
});

const t0 = performance.now();
let n = 0;
let stepStart = t0;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const reporter: DemoReporter = {
  step(title) {
    n += 1;
    stepStart = performance.now();
    process.stdout.write(`\n[${n}] ${title}\n`);
  },
  done(detail) {
    process.stdout.write(`    ok (${secs(performance.now() - stepStart)}): ${detail}\n`);
  },
  info(line) {
    process.stdout.write(`${line}\n`);
  },
};

if (values.model !== 'fashion-mnist' && values.model !== 'detect') {
  process.stderr.write(`--model takes fashion-mnist or detect, got ${values.model}\n`);
  process.exit(2);
}
const model: 'fashion-mnist' | 'detect' = values.model;
const dataDir = values['data-dir'] ?? (await mkdtemp(join(tmpdir(), 'bmfleet-demo-')));
process.stdout.write(`bmfleet demo: data in ${dataDir}\n`);
try {
  const summary = await runDemo(
    {
      dataDir,
      devices: Number(values.devices),
      experimentMs: Number(values['experiment-seconds']) * 1000,
      perAgentRps: Number(values.rps),
      telemetryIntervalMs: 1000,
      keep: values.keep,
      model,
    },
    reporter,
  );
  process.stdout.write(
    // The whole process (module loading included); `npm run demo` builds first, not counted.
    `\nDone in ${secs(process.uptime() * 1000)} (this process; steps above).\n` +
      (values.keep
        ? `  dashboard: ${summary.apiUrl}/  (operator token: ${summary.token ?? join(dataDir, 'operator-token')})\n` +
          `  experiment report: ${summary.reportPath} (also on the dashboard's Experiments page)\n` +
          `  REST API and OpenAPI docs: ${summary.apiUrl}/docs\n`
        : `  experiment report: ${summary.reportPath}\n` +
          `  the controller has stopped; run with --keep to browse the dashboard and the API\n`),
  );
  if (values.keep) {
    process.stdout.write('  controller and fleet keep running; press Ctrl-C to stop\n');
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    await summary.stop();
  }
} catch (e) {
  process.stderr.write(`\ndemo FAILED: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
