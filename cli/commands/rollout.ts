// `bmfleet rollout create|list|show|events|pause|resume|approve|cancel|rollback` over REST.
import { bmfError } from '../../shared/errors.js';
import { parseDeviceId } from '../../shared/ids.js';
import {
  CLIENT_OPTIONS,
  clientFrom,
  formatTable,
  formatTime,
  parseTags,
  shortDigest,
  writeJson,
} from '../http-client.js';
import { numberFlag, parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';
import type {
  RolloutCommand,
  RolloutCreateInput,
  RolloutView,
} from '../../controller/api/client.js';

export const USAGE = `usage:
  bmfleet rollout create BUNDLE_DIGEST [--ids a,b] [--chip C] [--tag k=v ...]
        [--groups 10%,50%,100% | 1,5,rest] [--success-threshold PCT] [--approval]
        [--error-percent PCT | --error-count N] [--min-finished N] [--on-error pause|rollback]
        [--device-timeout MS] [--max-retries N] [--rate N/min] [--id ID]
        [--soak MS --max-p95 MS --max-p95-regression PCT --max-error-rate R --min-accuracy A]
  bmfleet rollout list [--json]
  bmfleet rollout show ID [--json]
  bmfleet rollout events ID [--json]
  bmfleet rollout pause|resume|approve|cancel|rollback ID
common: [--url http://127.0.0.1:8480] [--token TOKEN]`;

const COMMANDS: readonly RolloutCommand[] = ['pause', 'resume', 'approve', 'cancel', 'rollback'];
const isCommand = (a: string | undefined): a is RolloutCommand =>
  (COMMANDS as readonly (string | undefined)[]).includes(a);

type Rollout = RolloutView;

function parse(argv: readonly string[]) {
  return parseCommandArgs(
    argv,
    {
      ...CLIENT_OPTIONS,
      id: { type: 'string' },
      ids: { type: 'string' },
      chip: { type: 'string' },
      tag: { type: 'string', multiple: true },
      groups: { type: 'string' },
      'success-threshold': { type: 'string' },
      approval: { type: 'boolean', default: false },
      'error-percent': { type: 'string' },
      'error-count': { type: 'string' },
      'min-finished': { type: 'string' },
      'on-error': { type: 'string' },
      'device-timeout': { type: 'string' },
      'max-retries': { type: 'string' },
      rate: { type: 'string' },
      soak: { type: 'string' },
      'max-p95': { type: 'string' },
      'max-p95-regression': { type: 'string' },
      'max-error-rate': { type: 'string' },
      'min-accuracy': { type: 'string' },
    },
    USAGE,
  );
}

/** `10%,50%,100%` -> percents; `1,5,rest` -> counts (the server puts the rest in the last). */
export function parseGroups(raw: string | undefined): ({ percent: number } | { count: number })[] {
  if (!raw) return [{ percent: 100 }];
  return raw.split(',').map((part) => {
    const p = part.trim();
    if (p === 'rest') return { percent: 100 };
    if (p.endsWith('%')) return { percent: numberFlag('groups', p.slice(0, -1)) ?? 0 };
    return { count: numberFlag('groups', p) ?? 0 };
  });
}

type V = ReturnType<typeof parse>['values'];

const defined = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as Partial<T>;

/** Words the server checks against its schema: passed on as given, so its error names them. */
const asGiven = <T>(raw: string | undefined): T | undefined => raw as T | undefined;

export function rolloutBody(bundle: string, v: V): RolloutCreateInput {
  const tags = parseTags(v.tag);
  const errorThreshold = defined({
    percent: numberFlag('error-percent', v['error-percent']),
    count: numberFlag('error-count', v['error-count']),
    minFinished: numberFlag('min-finished', v['min-finished']),
  });
  const healthGate =
    v.soak !== undefined
      ? {
          soakMs: numberFlag('soak', v.soak) ?? 0,
          ...defined({
            maxP95Ms: numberFlag('max-p95', v['max-p95']),
            maxP95RegressionPct: numberFlag('max-p95-regression', v['max-p95-regression']),
            maxErrorRate: numberFlag('max-error-rate', v['max-error-rate']),
            minAccuracy: numberFlag('min-accuracy', v['min-accuracy']),
          }),
        }
      : undefined;
  return {
    bundle,
    filter: defined({
      ids: v.ids ? v.ids.split(',').map((s) => parseDeviceId(s.trim(), '--ids')) : undefined,
      chip: asGiven<RolloutCreateInput['filter']['chip']>(v.chip),
      tags: Object.keys(tags).length ? tags : undefined,
    }),
    groups: parseGroups(v.groups),
    ...defined({
      id: v.id,
      successThresholdPct: numberFlag('success-threshold', v['success-threshold']),
      afterGroup: v.approval ? ('approval' as const) : undefined,
      errorThreshold:
        errorThreshold.percent !== undefined || errorThreshold.count !== undefined
          ? { minFinished: 1, ...errorThreshold }
          : undefined,
      onError: asGiven<RolloutCreateInput['onError']>(v['on-error']),
      deviceTimeoutMs: numberFlag('device-timeout', v['device-timeout']),
      maxRetries: numberFlag('max-retries', v['max-retries']),
      maxStartsPerMinute: numberFlag('rate', v.rate),
      healthGate,
    }),
  };
}

const progress = (r: Rollout) =>
  r.groups
    .map((g) => {
      const done = g.counts.active ?? 0;
      const failed = (g.counts.failed ?? 0) + (g.counts.timed_out ?? 0);
      return `${done}/${g.size}${failed ? ` (${failed} failed)` : ''}`;
    })
    .join(' | ');

const table = (rs: readonly Rollout[]) =>
  formatTable(
    ['ROLLOUT', 'BUNDLE', 'STATUS', 'GROUP', 'PROGRESS', 'UPDATED'],
    rs.map((r) => [
      r.id,
      shortDigest(r.bundle),
      r.status,
      `${r.group + 1}/${r.groups.length}`,
      progress(r),
      formatTime(r.updatedAt),
    ]),
  );

export const run: CommandRun = async (ctx) => {
  const { values: v, positionals } = parse(ctx.argv);
  const [action, arg] = positionals;
  const api = clientFrom(v, ctx.env);
  const needId = () => {
    if (!arg) throw bmfError('BMF_ERR_USAGE', { reason: `rollout ${action} needs ID\n${USAGE}` });
    return arg;
  };
  const print = (r: Rollout) => {
    if (v.json) writeJson(ctx.stdout, r);
    else ctx.stdout.write(table([r]) + (r.reason ? `reason: ${r.reason}\n` : ''));
  };
  switch (action) {
    case 'create': {
      if (!arg)
        throw bmfError('BMF_ERR_USAGE', { reason: `rollout create needs BUNDLE\n${USAGE}` });
      print(await api.rollouts.create(rolloutBody(arg, v)));
      return 0;
    }
    case 'list': {
      const rollouts = await api.rollouts.list();
      if (v.json) writeJson(ctx.stdout, rollouts);
      else ctx.stdout.write(table(rollouts));
      return 0;
    }
    case 'show':
      print(await api.rollouts.get(needId()));
      return 0;
    case 'events': {
      const events = await api.rollouts.events(needId());
      if (v.json) writeJson(ctx.stdout, events);
      else
        ctx.stdout.write(
          formatTable(
            ['TIME', 'EVENT', 'DEVICE', 'MESSAGE'],
            events.map((e) => [formatTime(e.at), e.type, e.deviceId ?? '-', e.message]),
          ),
        );
      return 0;
    }
    default:
      if (isCommand(action)) {
        print(await api.rollouts.command(needId(), action));
        return 0;
      }
      throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
  }
};
