// The `bmfleet` command line. Each subcommand lives with the part that owns it and is loaded
// lazily, so `bmfleet bmodel inspect` does not pay for the controller's start-up.
import { isBmfError, toBmfError } from '../shared/errors.js';

export interface CommandContext {
  readonly argv: readonly string[];
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A command returns its exit code. */
export type CommandRun = (ctx: CommandContext) => Promise<number>;

interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<CommandRun>;
}

// Registry: name -> lazy loader. Parts add their commands here.
export const commands: Record<string, CommandEntry> = {
  package: {
    summary: 'pack a compiled BMODEL, golden set, labels and provenance into a bundle directory',
    load: async () => (await import('./commands/package.js')).run,
  },
  agent: {
    summary: 'run the on-device agent (agent --config agent.json)',
    load: async () => (await import('./commands/agent.js')).run,
  },
  version: {
    summary: 'print the bmfleet version',
    load: async () => (await import('./commands/version.js')).run,
  },
  keys: {
    summary: 'create, rotate and show signing keys and the root of trust',
    load: async () => (await import('./commands/keys.js')).run,
  },
  bundle: {
    summary: 'build, sign, verify and inspect model bundles',
    load: async () => (await import('./commands/bundle.js')).run,
  },
  bmodel: {
    summary: 'inspect a BMODEL (bmodel inspect FILE [--json])',
    load: async () => (await import('./commands/bmodel.js')).run,
  },
  compile: {
    summary: 'compile an ONNX model to a validated BMODEL (sim, tpu-mlir or tpu-nntc)',
    load: async () => (await import('./commands/compile.js')).run,
  },
  quantize: {
    summary: 'quantize an ONNX model to an INT8 BMODEL automatically (calibration + search)',
    load: async () => (await import('./commands/quantize.js')).run,
  },
  umodel: {
    summary: 'step-by-step INT8: umodel export|calibrate|evaluate|build',
    load: async () => (await import('./commands/umodel.js')).run,
  },
  controller: {
    summary: 'run the fleet controller (broker, registry, rollouts, telemetry, REST API)',
    load: async () => (await import('./commands/controller.js')).run,
  },
  device: {
    summary: 'enrol and manage devices: device add|list|show|rm',
    load: async () => (await import('./commands/device.js')).run,
  },
  model: {
    summary: 'controller registry: model list|bundles|show|push',
    load: async () => (await import('./commands/model.js')).run,
  },
  rollout: {
    summary:
      'staged rollouts: rollout create|list|show|events|pause|resume|approve|cancel|rollback',
    load: async () => (await import('./commands/rollout.js')).run,
  },
  experiment: {
    summary: 'A/B experiments: experiment create|list|show|start|report|promote|abort',
    load: async () => (await import('./commands/experiment.js')).run,
  },
  telemetry: {
    summary: 'fleet telemetry: telemetry show|group',
    load: async () => (await import('./commands/telemetry.js')).run,
  },
  preprocess: {
    summary: 'write the tensor the agent would feed for an image (.npy) and compare it with yours',
    load: async () => (await import('./commands/preprocess.js')).run,
  },
  simulate: {
    summary: 'run N simulated devices against a controller (simulate --devices N)',
    load: async () => (await import('./commands/simulate.js')).run,
  },
};

function usage(): string {
  const rows = Object.entries(commands)
    .map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`)
    .join('\n');
  return `usage: bmfleet <command> [options]\n\ncommands:\n${rows}\n`;
}

export async function main(ctx: CommandContext): Promise<number> {
  const [name, ...rest] = ctx.argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    ctx.stdout.write(usage());
    return name ? 0 : 2;
  }
  const entry = commands[name];
  if (!entry) {
    ctx.stderr.write(`bmfleet: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    const run = await entry.load();
    return await run({ ...ctx, argv: rest });
  } catch (e) {
    const err = toBmfError(e);
    ctx.stderr.write(`${err.code}: ${err.message}\n`);
    if (!isBmfError(e) && ctx.env.BMFLEET_DEBUG) ctx.stderr.write(`${(e as Error).stack}\n`);
    return err.code === 'BMF_ERR_USAGE' ? 2 : 1;
  }
}
