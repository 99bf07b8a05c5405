// `bmfleet agent --config agent.json`: run the on-device agent until SIGINT/SIGTERM.
import { parseCommandArgs } from '../args.js';
import type { CommandRun } from '../main.js';

export const USAGE = `usage: bmfleet agent --config agent.json [--device-id ID] [--broker URL] [--state-dir DIR]
                     [--runtime auto|bmrt|sim] [--api-host HOST] [--api-port N] [--verbose]
Configuration: --config file < BMFLEET_AGENT_* variables < flags.`;

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
  const log = (line: string): void => void ctx.stdout.write(`${line}\n`);
  const [agent] = await startAgents([config], v.verbose ? { log } : {});
  if (!agent) return 1;
  ctx.stdout.write(
    `agent ${config.deviceId} ready: runtime ${agent.runtime.chosen} (${agent.runtime.reason})` +
      `${agent.apiAddress() ? `, api ${agent.apiAddress()}` : ''}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await agent.stop();
  return 0;
};
