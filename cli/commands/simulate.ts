// `bmfleet simulate --devices N [--agents real|light] [--processes P]`: enrol N simulated devices
// through the REST API and run them in P processes until SIGINT/SIGTERM. `real` runs the agent
// program itself on the simulator runtime (simulate/); `light` runs simulate/wire-devices/'s
// wire-protocol stand-ins, which keep no model and no blob bytes and so scale to thousands here.
import { bmfError } from '../../shared/errors.js';
import { numberFlag, parseCommandArgs } from '../args.js';
import { createApiClient, parseTags, readTokenFileFor } from '../http-client.js';
import type { CommandRun } from '../command.js';
import type { Fleet } from '../../simulate/wire-devices/fleet.js';

/** Without --agents: real agents up to this many devices, lightweight ones beyond. */
export const REAL_AGENTS_UP_TO = 200;

export const USAGE = `usage: bmfleet simulate --devices N [--agents real|light] [--processes P]
                        [--controller URL] [--token TOKEN] [--prefix sim] [--chip bm1684x]
                        [--tag k=v ...] [--state-dir DIR] [--timing modeled|host] [--verbose]
  --agents real   the agent program (simulator runtime, own state dir each under --state-dir,
                  a temp dir removed at exit by default); the default up to ${REAL_AGENTS_UP_TO} devices
  --agents light  lightweight wire-protocol devices (fetch and verify, then report active;
                  no model is loaded); the default above ${REAL_AGENTS_UP_TO} devices`;

function parse(argv: readonly string[]) {
  return parseCommandArgs(
    argv,
    {
      devices: { type: 'string' },
      agents: { type: 'string' },
      processes: { type: 'string', default: '2' },
      controller: { type: 'string' },
      token: { type: 'string' },
      prefix: { type: 'string', default: 'sim' },
      chip: { type: 'string', default: 'bm1684x' },
      tag: { type: 'string', multiple: true },
      'state-dir': { type: 'string' },
      timing: { type: 'string', default: 'modeled' },
      verbose: { type: 'boolean', default: false },
    },
    USAGE,
    false,
  ).values;
}

function oneOf<T extends string>(raw: string, flag: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw))
    throw bmfError('BMF_ERR_USAGE', {
      reason: `${flag} must be ${allowed.join(' or ')}, not ${raw}\n${USAGE}`,
    });
  return raw as T;
}

export const run: CommandRun = async (ctx) => {
  const v = parse(ctx.argv);
  if (v.devices === undefined)
    throw bmfError('BMF_ERR_USAGE', { reason: `--devices is required\n${USAGE}` });
  const devices = numberFlag('devices', v.devices, { integer: true, min: 1 });
  const processes = numberFlag('processes', v.processes, { integer: true, min: 1 });
  const agents = oneOf(v.agents ?? (devices <= REAL_AGENTS_UP_TO ? 'real' : 'light'), '--agents', [
    'real',
    'light',
  ] as const);
  const timing = oneOf(v.timing, '--timing', ['modeled', 'host'] as const);
  if (agents === 'light' && (v['state-dir'] !== undefined || v.verbose))
    throw bmfError('BMF_ERR_USAGE', {
      reason: `--state-dir and --verbose apply to --agents real\n${USAGE}`,
    });
  const client = createApiClient({ url: v.controller, token: v.token, env: ctx.env });
  const token = v.token ?? ctx.env.BMFLEET_TOKEN ?? readTokenFileFor(ctx.env);
  if (!token) throw bmfError('BMF_ERR_UNAUTHORIZED');

  const perBundle = new Map<string, number>();
  const lastBundle = new Map<string, string>();
  let installs = 0;
  const common = {
    controllerUrl: client.baseUrl,
    token,
    devices,
    processes,
    prefix: v.prefix,
    chip: v.chip,
    tags: parseTags(v.tag),
    onStarted: (n: number) => ctx.stdout.write(`started ${n}/${devices}\n`),
    onActive: (id: string, bundle: string) => {
      installs++;
      const before = lastBundle.get(id);
      if (before) perBundle.set(before, (perBundle.get(before) ?? 1) - 1);
      lastBundle.set(id, bundle);
      const now = (perBundle.get(bundle) ?? 0) + 1;
      perBundle.set(bundle, now);
      ctx.stdout.write(`${id} active ${bundle.slice(0, 12)} (${installs} installs)\n`);
      if (now === devices) ctx.stdout.write(`all ${devices} devices active ${bundle}\n`);
    },
  };
  let fleet: Pick<Fleet, 'ids' | 'brokerUrl' | 'memory' | 'stop'>;
  let what: string;
  if (agents === 'real') {
    const { startAgentFleet } = await import('../../simulate/fleet.js');
    const real = await startAgentFleet({
      ...common,
      timing,
      verbose: v.verbose,
      ...(v['state-dir'] !== undefined ? { stateRoot: v['state-dir'] } : {}),
    });
    fleet = real;
    what = `real agents (simulator runtime, ${timing} timing, state under ${real.stateRoot})`;
  } else {
    const { startFleet } = await import('../../simulate/wire-devices/fleet.js');
    fleet = await startFleet(common);
    what = 'lightweight wire-protocol stand-ins, not the agent program';
  }
  const mib = (await fleet.memory()).map((m) => `${(m.rss / 1048576).toFixed(0)} MiB`);
  ctx.stdout.write(
    `simulating ${fleet.ids.length} devices in ${mib.length} processes (RSS ${mib.join(', ')}): ${what}, ` +
      `against ${client.baseUrl} (broker ${fleet.brokerUrl}); Ctrl-C stops\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await fleet.stop();
  return 0;
};
