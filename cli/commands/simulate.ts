// `bmfleet simulate --devices N [--processes P] --controller URL`: enrol N simulated devices
// through the REST API and run them in P processes until SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import { bmfError } from '../../shared/errors.js';
import { createApiClient } from '../http-client.js';
import type { CommandRun } from '../main.js';

const USAGE = `usage: bmfleet simulate --devices N [--processes P] [--controller URL] [--token TOKEN]
                        [--prefix sim] [--chip bm1684x] [--tag k=v ...]`;

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        devices: { type: 'string' },
        processes: { type: 'string', default: '2' },
        controller: { type: 'string' },
        token: { type: 'string' },
        prefix: { type: 'string', default: 'sim' },
        chip: { type: 'string', default: 'bm1684x' },
        tag: { type: 'string', multiple: true },
      },
    }).values;
  } catch (e) {
    throw bmfError('BMF_ERR_USAGE', { reason: `${(e as Error).message}\n${USAGE}` });
  }
}

function positiveInt(raw: string | undefined, flag: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw bmfError('BMF_ERR_USAGE', { reason: `${flag} must be a positive integer\n${USAGE}` });
  return n;
}

export const run: CommandRun = async (ctx) => {
  const v = parse(ctx.argv);
  const { parseTags } = await import('../http-client.js');
  const { startFleet } = await import('../../controller/fleet/fleet.js');
  const client = createApiClient({ url: v.controller, token: v.token, env: ctx.env });
  const token =
    v.token ??
    ctx.env.BMFLEET_TOKEN ??
    (await import('../http-client.js')).readTokenFileFor(ctx.env);
  if (!token) throw bmfError('BMF_ERR_UNAUTHORIZED');
  let active = 0;
  const fleet = await startFleet({
    controllerUrl: client.baseUrl,
    token,
    devices: positiveInt(v.devices, '--devices'),
    processes: positiveInt(v.processes, '--processes'),
    prefix: v.prefix,
    chip: v.chip,
    tags: parseTags(v.tag),
    onActive: (id, bundle) => {
      active++;
      ctx.stdout.write(`${id} active ${bundle.slice(0, 12)} (${active} installs)\n`);
    },
  });
  ctx.stdout.write(
    `simulating ${fleet.ids.length} devices (lightweight wire-protocol stand-ins, not the agent program) ` +
      `against ${client.baseUrl} (broker ${fleet.brokerUrl}); Ctrl-C stops\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await fleet.stop();
  return 0;
};
