// `bmfleet telemetry show|group`: merged fleet telemetry over REST.
import { bmfError } from '../../shared/errors.js';
import { parseDeviceId, parseVariant, type VariantName } from '../../shared/ids.js';
import { CLIENT_OPTIONS, clientFrom, formatTable, writeJson } from '../http-client.js';
import { parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';
import type { TelemetrySummaryView } from '../../controller/api/client.js';

export const USAGE = `usage:
  bmfleet telemetry show [--bundle DIGEST] [--device ID] [--variant V] [--from T] [--to T] [--json]
  bmfleet telemetry group ROLLOUT_ID N [--json]
T is an ISO time or ms since the epoch; the default range is the last hour.
common: [--url http://127.0.0.1:8480] [--token TOKEN]`;

function parse(argv: readonly string[]) {
  return parseCommandArgs(
    argv,
    {
      ...CLIENT_OPTIONS,
      bundle: { type: 'string' },
      device: { type: 'string' },
      variant: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
    },
    USAGE,
  );
}

function timeArg(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (Number.isNaN(ms)) throw bmfError('BMF_ERR_USAGE', { reason: `${flag}: not a time: ${raw}` });
  return ms;
}

const f = (n: number | undefined, digits = 2) => (n === undefined ? '-' : n.toFixed(digits));

function describe(s: TelemetrySummaryView): string {
  const golden = s.accuracy.golden;
  const head =
    `reports ${s.reports} from ${s.devices} device(s); requests ${s.requests}, ` +
    `errors ${s.errors} (${f(s.errorRate * 100)} %)` +
    (golden.total ? `; golden accuracy ${f((golden.correct / golden.total) * 100)} %` : '') +
    '\n';
  const stages = Object.entries(s.latency);
  return (
    head +
    (stages.length
      ? formatTable(
          ['STAGE', 'COUNT', 'P50 MS', 'P95 MS', 'P99 MS', 'MEAN MS'],
          stages.map(([name, l]) => [
            name,
            String(l.count),
            f(l.p50),
            f(l.p95),
            f(l.p99),
            f(l.mean),
          ]),
        )
      : '')
  );
}

/** `--variant A` (or the earlier spelling `a`): the API takes 'A'/'B' only. */
function variantArg(raw: string | undefined): VariantName | undefined {
  if (raw === undefined) return undefined;
  const variant = parseVariant(raw);
  if (!variant) throw bmfError('BMF_ERR_USAGE', { reason: `--variant: A or B, not ${raw}` });
  return variant;
}

export const run: CommandRun = async (ctx) => {
  const { values: v, positionals } = parse(ctx.argv);
  const [action, id, n] = positionals;
  const api = clientFrom(v, ctx.env);
  if (action === 'show') {
    const s = await api.telemetry.query({
      bundle: v.bundle,
      device: v.device === undefined ? undefined : parseDeviceId(v.device, '--device'),
      variant: variantArg(v.variant),
      from: timeArg(v.from, '--from'),
      to: timeArg(v.to, '--to'),
    });
    if (v.json) writeJson(ctx.stdout, s);
    else ctx.stdout.write(describe(s));
    return 0;
  }
  if (action === 'group') {
    if (!id || n === undefined)
      throw bmfError('BMF_ERR_USAGE', { reason: `telemetry group needs ROLLOUT_ID N\n${USAGE}` });
    const group = Number(n);
    if (!Number.isSafeInteger(group) || group < 0)
      throw bmfError('BMF_ERR_USAGE', { reason: `telemetry group: N must be a group index: ${n}` });
    const g = await api.telemetry.group(id, group);
    if (v.json) writeJson(ctx.stdout, g);
    else {
      const h = g.health;
      ctx.stdout.write(
        h
          ? `group ${n}: ${g.devices} device(s), requests ${h.requests}, error rate ${f(h.errorRate * 100)} %, p95 ${f(h.p95Ms)} ms, accuracy ${h.accuracy === undefined ? '-' : f(h.accuracy * 100) + ' %'}\n`
          : `group ${n}: ${g.devices} device(s), no telemetry yet\n`,
      );
    }
    return 0;
  }
  throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
};
