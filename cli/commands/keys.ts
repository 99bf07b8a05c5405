// `bmfleet keys init|rotate|show`: thin shell over shared/trust/keystore.ts.
import { bmfError } from '../../shared/errors.js';
import { createKeystore, type KeystoreSummary } from '../../shared/trust/keystore.js';
import { ROLES, type RoleName } from '../../shared/trust/root.js';
import { numberFlag, parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';

export const USAGE = `usage:
  bmfleet keys init   [--dir KEYDIR] [--expires-days N]
  bmfleet keys rotate root|bundle|assignment [--dir KEYDIR] [--expires-days N]
  bmfleet keys show   [--dir KEYDIR] [--json]
KEYDIR defaults to $BMFLEET_KEYS_DIR or ./keys`;

function parse(argv: readonly string[]) {
  return parseCommandArgs(
    argv,
    {
      dir: { type: 'string' },
      'expires-days': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    USAGE,
  );
}

function describe(s: KeystoreSummary): string {
  const rows = ROLES.map((r) => {
    const { keyids, threshold } = s.roles[r];
    const keys = keyids
      .map((k) => `${k}${s.privateKeys.includes(k) ? '' : ' (no private key here)'}`)
      .join('\n' + ' '.repeat(16));
    return `  ${r.padEnd(11)} ${threshold}-of-${keyids.length} ${keys}`;
  });
  return `keys in ${s.dir}\nroot version ${s.version}, expires ${s.expires}\n${rows.join('\n')}\n`;
}

export const run: CommandRun = async (ctx) => {
  const { values, positionals } = parse(ctx.argv);
  const [action, role] = positionals;
  const store = createKeystore(values.dir ?? ctx.env.BMFLEET_KEYS_DIR ?? 'keys');
  const days = numberFlag('expires-days', values['expires-days'], { integer: true, min: 1 });
  let summary: KeystoreSummary;
  switch (action) {
    case 'init':
      summary = await store.init({ now: new Date(), expiresDays: days });
      break;
    case 'rotate':
      if (!ROLES.includes(role as RoleName)) {
        throw bmfError('BMF_ERR_USAGE', { reason: `rotate needs a role\n${USAGE}` });
      }
      summary = await store.rotate(role as RoleName, { now: new Date(), expiresDays: days });
      break;
    case 'show':
      summary = await store.show();
      break;
    default:
      throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
  }
  ctx.stdout.write(values.json ? `${JSON.stringify(summary, null, 2)}\n` : describe(summary));
  return 0;
};
