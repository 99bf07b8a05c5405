// `bmfleet agent --config agent.json`: run the on-device agent until SIGINT/SIGTERM.
import { parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';

export const USAGE = `usage: bmfleet agent --config agent.json [--device-id ID] [--broker URL] [--state-dir DIR]
                     [--runtime auto|bmrt|sim] [--api-host HOST] [--api-port N] [--verbose]
Configuration: --config file < BMFLEET_AGENT_* variables < flags.
Logs (JSON lines on stderr) at "logLevel" (info by default); --verbose is debug.
SIGTERM or SIGINT stops the agent within 5 s; a second signal ends it at once.`;

function parse(argv: readonly string[]) {
  return parseCommandArgs(
    argv,
    {
      config: { type: 'string' },
      'device-id': { type: 'string' },
      broker: { type: 'string' },
      'state-dir': { type: 'string' },
      runtime: { type: 'string' },
      'api-host': { type: 'string' },
      'api-port': { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    USAGE,
    false,
  ).values;
}

export const run: CommandRun = async (ctx) => {
  const v = parse(ctx.argv);
  if (v.help) {
    ctx.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { loadAgentConfig } = await import('../../agent/config.js');
  const { startAgents } = await import('../../agent/main.js');
  const config = loadAgentConfig({
    ...(v.config ? { file: v.config } : {}),
    env: ctx.env,
    flags: {
      deviceId: v['device-id'],
      'broker.url': v.broker,
      stateDir: v['state-dir'],
      runtime: v.runtime,
      'api.host': v['api-host'],
      'api.port': v['api-port'],
    },
  });
  const { createLogger } = await import('../../shared/log.js');
  const { runUntilSignal } = await import('../shutdown.js');
  // Log lines (what was installed, swapped, refused and why) go to stderr; stdout says ready.
  const logger = createLogger({ program: 'agent', level: v.verbose ? 'debug' : config.logLevel });
  const [agent] = await startAgents([config], { logger });
  if (!agent) return 1;
  ctx.stdout.write(
    `agent ${config.deviceId} ready: runtime ${agent.runtime.chosen} (${agent.runtime.reason})` +
      `${agent.apiAddress() ? `, api ${agent.apiAddress()}` : ''}\n`,
  );
  return runUntilSignal({ log: logger, stop: () => agent.stop() });
};
