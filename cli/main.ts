// The `bmfleet` command line. Each subcommand lives with the part that owns it and is loaded
// lazily, so `bmfleet bmodel inspect` does not pay for the controller's start-up.
import { isBmfError, toBmfError } from '../shared/errors.js';
import type { CommandContext, CommandModule } from './command.js';

interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<CommandModule>;
}

// Registry: name -> lazy loader. Parts add their commands here.
export const commands: Record<string, CommandEntry> = {
  package: {
    summary: 'pack a compiled BMODEL, golden set, labels and provenance into a bundle directory',
    load: () => import('./commands/package.js'),
  },
  agent: {
    summary: 'run the on-device agent (agent --config agent.json)',
    load: () => import('./commands/agent.js'),
  },
  version: {
    summary: 'print the bmfleet version',
    load: () => import('./commands/version.js'),
  },
  keys: {
    summary: 'create, rotate and show signing keys and the root of trust',
    load: () => import('./commands/keys.js'),
  },
  bundle: {
    summary: 'build, sign, verify and inspect model bundles',
    load: () => import('./commands/bundle.js'),
  },
  'bmrt-test': {
    summary:
      'run a BMODEL on libsophon (or the simulator) like the vendor bmrt_test, beside the cost model',
    load: () => import('./commands/bmrt-test.js'),
  },
  golden: {
    summary: "record a vendor BMODEL's reference outputs on a board (golden record ...)",
    load: () => import('./commands/golden.js'),
  },
  bmodel: {
    summary: 'inspect a BMODEL (bmodel inspect FILE [--json])',
    load: () => import('./commands/bmodel.js'),
  },
  compile: {
    summary: 'compile an ONNX model to a validated BMODEL (sim, tpu-mlir or tpu-nntc)',
    load: () => import('./commands/compile.js'),
  },
  quantize: {
    summary: 'quantize an ONNX model to an INT8 BMODEL automatically (calibration + search)',
    load: () => import('./commands/quantize.js'),
  },
  umodel: {
    summary: 'step-by-step INT8: umodel export|calibrate|evaluate|build',
    load: () => import('./commands/umodel.js'),
  },
  controller: {
    summary: 'run the fleet controller (broker, registry, rollouts, telemetry, REST API)',
    load: () => import('./commands/controller.js'),
  },
  device: {
    summary: 'enrol and manage devices: device add|list|show|rm',
    load: () => import('./commands/device.js'),
  },
  model: {
    summary: 'controller registry: model list|bundles|show|push',
    load: () => import('./commands/model.js'),
  },
  rollout: {
    summary:
      'staged rollouts: rollout create|list|show|events|pause|resume|approve|cancel|rollback',
    load: () => import('./commands/rollout.js'),
  },
  experiment: {
    summary: 'A/B experiments: experiment create|list|show|start|report|promote|abort',
    load: () => import('./commands/experiment.js'),
  },
  telemetry: {
    summary: 'fleet telemetry: telemetry show|group',
    load: () => import('./commands/telemetry.js'),
  },
  preprocess: {
    summary: 'write the tensor the agent would feed for an image (.npy) and compare it with yours',
    load: () => import('./commands/preprocess.js'),
  },
  simulate: {
    summary: 'run N simulated devices against a controller (simulate --devices N)',
    load: () => import('./commands/simulate.js'),
  },
};

/** True when the arguments ask for help (before a `--` that ends the options). */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

const asUsage = (text: string): string =>
  `${(text.startsWith('usage:') ? text : `usage: ${text}`).trimEnd()}\n`;

function usage(): string {
  const rows = Object.entries(commands)
    .map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`)
    .join('\n');
  return (
    `usage: bmfleet <command> [options]\n       bmfleet <command> --help   (or -h) for its usage\n` +
    `       bmfleet --version      (or -V)\n\ncommands:\n${rows}\n`
  );
}

export async function main(ctx: CommandContext): Promise<number> {
  const [first, ...rest] = ctx.argv;
  if (!first || first === '--help' || first === '-h' || first === 'help') {
    ctx.stdout.write(usage());
    return first ? 0 : 2;
  }
  const name = first === '--version' || first === '-V' ? 'version' : first;
  const entry = commands[name];
  if (!entry) {
    ctx.stderr.write(`bmfleet: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    const command = await entry.load();
    if (wantsHelp(rest)) {
      ctx.stdout.write(asUsage(command.USAGE));
      return 0;
    }
    return await command.run({ ...ctx, argv: rest });
  } catch (e) {
    const err = toBmfError(e);
    ctx.stderr.write(`${err.code}: ${err.message}\n`);
    if (!isBmfError(e) && ctx.env.BMFLEET_DEBUG) ctx.stderr.write(`${(e as Error).stack}\n`);
    return err.code === 'BMF_ERR_USAGE' ? 2 : 1;
  }
}
