// `bmfleet controller`: run the fleet controller until SIGINT/SIGTERM (graceful shutdown).
import { parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';

export const USAGE = `usage: bmfleet controller [--config controller.json] [--broker mqtt://HOST:PORT]
                          [--data-dir DIR] [--keys-dir DIR] [--api-host HOST] [--api-port N]
                          [--broker-port N] [--store postgres://USER@HOST/DB]
       bmfleet controller --mosquitto-acl [--config controller.json]
       bmfleet controller --nats-users SECRETS.json [--config controller.json] [--store URL]
Configuration: defaults < --config file < BMFLEET_* variables < flags.
--keys-dir is the keystore \`bmfleet keys init --dir DIR\` wrote and \`bundle sign --keys DIR\` signs
with (default DATA_DIR/keys, created on first start when empty; BMFLEET_KEYS_DIR sets it too).
--store names a PostgreSQL database that controller replicas share (default: SQLite in DATA_DIR);
rollouts and experiments then advance on the replica holding the lease.
--mosquitto-acl prints the topic ACL for an external Mosquitto (acl_file) and exits.
--nats-users prints NATS users (an authorization block to include) for the devices of SECRETS.json
({"device id": "secret from device add", ...}), each checked against the device registry, and for
the controller (broker.username and broker.password), then exits.
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
      'nats-users': { type: 'string' },
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
  if (v['nats-users'] !== undefined) {
    const { readFile } = await import('node:fs/promises');
    const { bmfError } = await import('../../shared/errors.js');
    const { controllerPaths } = await import('../../controller/config.js');
    const { openControllerStore } = await import('../../controller/store/open.js');
    const { createSystemClock } = await import('../../shared/clock.js');
    const { devicesForNats, natsAuthorizationConf } =
      await import('../../controller/broker/nats-users.js');
    let secrets: unknown;
    try {
      secrets = JSON.parse(await readFile(v['nats-users'], 'utf8'));
    } catch (e) {
      throw bmfError('BMF_ERR_NATS_USERS', {
        reason: `${v['nats-users']}: ${(e as Error).message}`,
      });
    }
    if (typeof secrets !== 'object' || secrets === null || Array.isArray(secrets)) {
      throw bmfError('BMF_ERR_NATS_USERS', {
        reason: `${v['nats-users']}: not an object of device id to secret`,
      });
    }
    if (!config.broker.password) {
      throw bmfError('BMF_ERR_NATS_USERS', { reason: 'broker.password (the controller) is unset' });
    }
    const store = await openControllerStore({
      ...(config.store ? { url: config.store } : {}),
      sqlitePath: controllerPaths(config).database,
      clock: createSystemClock(),
      holder: 'nats-users',
    });
    try {
      const { devices, withoutSecret } = await devicesForNats(
        store.devices,
        secrets as Record<string, unknown>,
      );
      ctx.stdout.write(
        natsAuthorizationConf({
          controller: {
            ...(config.broker.username ? { username: config.broker.username } : {}),
            password: config.broker.password,
          },
          devices,
        }),
      );
      if (withoutSecret.length > 0) {
        ctx.stderr.write(
          `no secret given, so no NATS user, for ${withoutSecret.length} registered device(s): ${withoutSecret.join(', ')}\n`,
        );
      }
    } finally {
      await store.close();
    }
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
