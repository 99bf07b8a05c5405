// `bmfleet model list|bundles|show|push`: the controller's model registry over REST.
// `push` imports a signed bundle directory that is on the controller host (POST /v1/bundles).
import { resolve } from 'node:path';
import { bmfError } from '../../shared/errors.js';
import {
  CLIENT_OPTIONS,
  clientFrom,
  formatTable,
  formatTime,
  shortDigest,
  writeJson,
} from '../http-client.js';
import { parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';
import type { BundleView } from '../../controller/api/client.js';

export const USAGE = `usage:
  bmfleet model list [--json]
  bmfleet model bundles [--model NAME] [--json]
  bmfleet model show DIGEST [--json]
  bmfleet model push BUNDLE_DIR [--json]     (a signed bundle dir on the controller host)
common: [--url http://127.0.0.1:8480] [--token TOKEN]`;

type Bundle = BundleView;

function parse(argv: readonly string[]) {
  return parseCommandArgs(argv, { ...CLIENT_OPTIONS, model: { type: 'string' } }, USAGE);
}

const bundleRows = (bs: readonly Bundle[]) =>
  formatTable(
    ['DIGEST', 'MODEL', 'VERSION', 'SEQ', 'PRECISION', 'CHIPS', 'CREATED'],
    bs.map((b) => [
      shortDigest(b.digest),
      b.model,
      b.version,
      String(b.sequence),
      b.precision,
      b.chips.join(','),
      formatTime(b.createdAt),
    ]),
  );

export const run: CommandRun = async (ctx) => {
  const { values: v, positionals } = parse(ctx.argv);
  const [action, arg] = positionals;
  const api = clientFrom(v, ctx.env);
  switch (action) {
    case 'list': {
      const models = await api.models.list();
      if (v.json) writeJson(ctx.stdout, models);
      else
        ctx.stdout.write(
          formatTable(
            ['MODEL', 'BUNDLES', 'LATEST', 'DIGEST'],
            models.map((m) => [
              m.name,
              String(m.bundles),
              m.latest ? `${m.latest.version} (${m.latest.precision})` : '-',
              shortDigest(m.latest?.digest),
            ]),
          ),
        );
      return 0;
    }
    case 'bundles': {
      const bundles = await api.bundles.list({ model: v.model });
      if (v.json) writeJson(ctx.stdout, bundles);
      else ctx.stdout.write(bundleRows(bundles));
      return 0;
    }
    case 'show': {
      if (!arg) throw bmfError('BMF_ERR_USAGE', { reason: `model show needs DIGEST\n${USAGE}` });
      const b = await api.bundles.get(arg);
      if (v.json) writeJson(ctx.stdout, b);
      else ctx.stdout.write(`${bundleRows([b])}digest ${b.digest}\n`);
      return 0;
    }
    case 'push': {
      if (!arg)
        throw bmfError('BMF_ERR_USAGE', { reason: `model push needs BUNDLE_DIR\n${USAGE}` });
      const b = await api.bundles.import(resolve(arg));
      if (v.json) writeJson(ctx.stdout, b);
      else
        ctx.stdout.write(
          `imported ${b.model} ${b.version} (sequence ${b.sequence})\n${b.digest}\n`,
        );
      return 0;
    }
    default:
      throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
  }
};
