// `bmfleet controller`: run the fleet controller until SIGINT/SIGTERM (graceful shutdown).
import { parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';

export const USAGE = `usage: bmfleet controller [--config controller.json] [--broker mqtt://HOST:PORT]
                          [--data-dir DIR] [--keys-dir DIR] [--api-host HOST] [--api-port N]
                          [--broker-port N] [--store postgres://USER@HOST/DB]
       bmfleet controller --mosquitto-acl [--config controller.json]
Configuration: defaults < --config file < BMFLEET_* variables < flags.
--keys-dir is the keystore \`bmfleet keys init --dir DIR\` wrote and \`bundle sign --keys DIR\` signs
with (default DATA_DIR/keys, created on first start when empty; BMFLEET_KEYS_DIR sets it too).
--store names a PostgreSQL database that controller replicas share (default: SQLite in DATA_DIR);
rollouts and experiments then advance on the replica holding the lease.
--mosquitto-acl prints the topic ACL for an external Mosquitto (acl_file) and exits.
SIGTERM or SIGINT stops the controller within 5 s; a second signal ends it at once.`;

function parse(argv: readonly string[]) {
  return parseCommandArgs(
    argv,
    {
      config: { type: 'string' },
      broker: { type: 'string' },
      store: { type: 'string' },
      'data-dir': { type: 'string' },
      'keys-dir': { type: 'string' },
      'api-host': { type: 'string' },
      'api-port': { type: 'string' },
      'broker-port': { type: 'string' },
      'mosquitto-acl': { type: 'boolean', default: false },
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
  const { loadControllerConfig } = await import('../../controller/config.js');
  const config = loadControllerConfig({
    ...(v.config ? { file: v.config } : {}),
    env: ctx.env,
    flags: {
      'broker.url': v.broker,
      store: v.store,
      dataDir: v['data-dir'],
      keysDir: v['keys-dir'],
      'api.host': v['api-host'],
      'api.port': v['api-port'],
      ...(v['broker-port'] !== undefined ? { 'broker.embedded.port': v['broker-port'] } : {}),
    },
  });
  if (v['mosquitto-acl']) {
    const { mosquittoAclFile } = await import('../../controller/broker/mosquitto-acl.js');
    ctx.stdout.write(mosquittoAclFile(config.broker.username));
    return 0;
  }
  const { startController } = await import('../../controller/main.js');
  const { createLogger } = await import('../../shared/log.js');
  const { runUntilSignal } = await import('../shutdown.js');
  const logger = createLogger({ program: 'controller', level: config.logLevel });
  const handle = await startController(config, { logger });
  if (handle.generatedToken) {
    ctx.stdout.write(
      `operator token (shown once; also in ${config.dataDir}/operator-token):\n  ${handle.generatedToken}\n`,
    );
  }
  ctx.stdout.write(
    `controller ready: api ${handle.apiUrl} broker ${handle.brokerUrl} keys ${handle.keysDir}\n`,
  );
  return runUntilSignal({ log: logger, stop: () => handle.stop() });
};
