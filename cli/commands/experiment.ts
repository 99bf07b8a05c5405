// `bmfleet experiment create|plan|list|show|start|report|promote|abort` over REST (plan runs
// locally unless it estimates from the controller's telemetry).
import { bmfError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import { parseExperimentSpec, type ExperimentRecord } from '../../controller/experiment/service.js';
import { renderExperimentTable } from '../../controller/experiment/report.js';
import {
  parsePlanRequest,
  planCohortExperiment,
  renderPlanText,
} from '../../controller/experiment/plan.js';
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

export const USAGE = `usage:
  bmfleet experiment create --id ID --a DIGEST --b DIGEST [--ids a,b] [--chip C] [--tag k=v ...]
        [--cohorts SHARE_B [--stratify chip|TAG] | --traffic WEIGHT_B | --shadow RATE]
        [--stages e2e,infer] [--latency-mde 0.05] [--accuracy-mde 0.02]
        [--max-error-increase R] [--max-accuracy-drop D] [--min-samples N] [--min-duration MS]
        [--alpha A] [--start]
  bmfleet experiment plan --metric accuracy|latency|precision|recall|agreement|boxes-per-image
        --mde X [--baseline B] [--requests-per-device M] [--icc R] [--between-sd-ms S]
        [--within-sd-ms S] [--per-image-sd S] [--shadow-share S] [--requests-per-second R]
        [--from-experiment ID | --from-bundle DIGEST [--since MS]] [--stage e2e]
        [--alpha A] [--power P] [--json]
        devices per arm for a cohort experiment; accuracy: --mde absolute (0.01 = 1 pt),
        --baseline a fraction; latency: --mde relative (0.05 = 5 %), --baseline the mean
        device median in ms; agreement: --mde the largest half-width of the matched-box F1
        interval, shadowed images needed at --shadow-share; boxes-per-image: --mde relative,
        --baseline detections per image, images (devices with --requests-per-device and --icc)
        per arm; --from-* estimates what is not given (needs the controller)
  bmfleet experiment list [--json]
  bmfleet experiment show ID [--json]
  bmfleet experiment start ID
  bmfleet experiment report ID [--json] [--html FILE]
  bmfleet experiment promote ID
  bmfleet experiment abort ID [--reason TEXT]
common: [--url http://127.0.0.1:8480] [--token TOKEN]`;

function parse(argv: readonly string[]) {
  return parseCommandArgs(
    argv,
    {
      ...CLIENT_OPTIONS,
      id: { type: 'string' },
      a: { type: 'string' },
      b: { type: 'string' },
      ids: { type: 'string' },
      chip: { type: 'string' },
      tag: { type: 'string', multiple: true },
      cohorts: { type: 'string' },
      stratify: { type: 'string' },
      traffic: { type: 'string' },
      shadow: { type: 'string' },
      stages: { type: 'string' },
      'latency-mde': { type: 'string' },
      'accuracy-mde': { type: 'string' },
      'max-error-increase': { type: 'string' },
      'max-accuracy-drop': { type: 'string' },
      'min-samples': { type: 'string', default: '1000' },
      'min-duration': { type: 'string', default: '0' },
      alpha: { type: 'string' },
      start: { type: 'boolean', default: false },
      reason: { type: 'string' },
      html: { type: 'string' },
      metric: { type: 'string' },
      mde: { type: 'string' },
      baseline: { type: 'string' },
      'requests-per-device': { type: 'string' },
      icc: { type: 'string' },
      'between-sd-ms': { type: 'string' },
      'within-sd-ms': { type: 'string' },
      'per-image-sd': { type: 'string' },
      'shadow-share': { type: 'string' },
      'requests-per-second': { type: 'string' },
      power: { type: 'string' },
      stage: { type: 'string' },
      'from-experiment': { type: 'string' },
      'from-bundle': { type: 'string' },
      since: { type: 'string' },
    },
    USAGE,
  );
}

type Values = ReturnType<typeof parse>['values'];

/** The create body from flags (the controller validates it; see ExperimentSpecSchema). */
export function specFromFlags(v: Values): Record<string, unknown> {
  if (!v.id || !v.a || !v.b)
    throw bmfError('BMF_ERR_USAGE', { reason: `create needs --id, --a and --b\n${USAGE}` });
  const kinds = [v.cohorts, v.traffic, v.shadow].filter((x) => x !== undefined).length;
  if (kinds > 1)
    throw bmfError('BMF_ERR_USAGE', { reason: 'choose one of --cohorts, --traffic, --shadow' });
  const allocation =
    v.traffic !== undefined
      ? { kind: 'traffic', weightB: numberFlag('traffic', v.traffic) }
      : v.shadow !== undefined
        ? { kind: 'shadow', rate: numberFlag('shadow', v.shadow) }
        : {
            kind: 'cohorts',
            shareB: numberFlag('cohorts', v.cohorts) ?? 0.5,
            ...(v.stratify ? { stratifyBy: v.stratify } : {}),
          };
  const tags = parseTags(v.tag);
  const drop = <T extends Record<string, unknown>>(o: T): T =>
    Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as T;
  return drop({
    id: v.id,
    bundleA: v.a,
    bundleB: v.b,
    population: drop({
      ids: v.ids ? v.ids.split(',').filter(Boolean) : undefined,
      chip: v.chip,
      tags: Object.keys(tags).length > 0 ? tags : undefined,
    }),
    allocation,
    metrics: drop({
      stages: v.stages ? v.stages.split(',').filter(Boolean) : undefined,
      latencyMde: numberFlag('latency-mde', v['latency-mde']),
      accuracyMde: numberFlag('accuracy-mde', v['accuracy-mde']),
    }),
    guardrails: drop({
      maxErrorRateIncrease: numberFlag('max-error-increase', v['max-error-increase']),
      maxAccuracyDrop: numberFlag('max-accuracy-drop', v['max-accuracy-drop']),
    }),
    minSamples: numberFlag('min-samples', v['min-samples']),
    minDurationMs: numberFlag('min-duration', v['min-duration']),
    alpha: numberFlag('alpha', v.alpha),
  });
}

/** The plan request from flags (validated by parsePlanRequest, locally or by the controller). */
export function planFromFlags(v: Values): Record<string, unknown> {
  if (!v.metric || v.mde === undefined)
    throw bmfError('BMF_ERR_USAGE', { reason: `plan needs --metric and --mde\n${USAGE}` });
  if (v['from-experiment'] !== undefined && v['from-bundle'] !== undefined)
    throw bmfError('BMF_ERR_USAGE', {
      reason: 'choose one of --from-experiment, --from-bundle',
    });
  if (v.since !== undefined && v['from-bundle'] === undefined)
    throw bmfError('BMF_ERR_USAGE', { reason: '--since goes with --from-bundle' });
  const from =
    v['from-experiment'] !== undefined
      ? { experiment: v['from-experiment'] }
      : v['from-bundle'] !== undefined
        ? {
            bundle: v['from-bundle'],
            ...(v.since !== undefined ? { sinceMs: numberFlag('since', v.since) } : {}),
          }
        : undefined;
  const body: Record<string, unknown> = {
    metric: v.metric,
    mde: numberFlag('mde', v.mde),
    baseline: numberFlag('baseline', v.baseline),
    requestsPerDevice: numberFlag('requests-per-device', v['requests-per-device']),
    icc: numberFlag('icc', v.icc),
    betweenSdMs: numberFlag('between-sd-ms', v['between-sd-ms']),
    withinSdMs: numberFlag('within-sd-ms', v['within-sd-ms']),
    perImageSd: numberFlag('per-image-sd', v['per-image-sd']),
    shadowShare: numberFlag('shadow-share', v['shadow-share']),
    requestsPerSecond: numberFlag('requests-per-second', v['requests-per-second']),
    alpha: numberFlag('alpha', v.alpha),
    power: numberFlag('power', v.power),
    stage: v.stage,
    from,
  };
  return Object.fromEntries(Object.entries(body).filter(([, x]) => x !== undefined));
}

function summary(r: ExperimentRecord): string[] {
  return [
    r.spec.id,
    r.state.status,
    r.spec.allocation.kind,
    shortDigest(r.spec.bundleA),
    shortDigest(r.spec.bundleB),
    String(r.state.devices.length),
    formatTime(r.state.startedAt),
    r.state.winner ?? '-',
  ];
}
const HEADERS = ['EXPERIMENT', 'STATUS', 'ALLOCATION', 'A', 'B', 'DEVICES', 'STARTED', 'WINNER'];

export const run: CommandRun = async (ctx) => {
  const { values: v, positionals } = parse(ctx.argv);
  const [sub, id] = positionals;
  if (sub === 'plan') {
    // Pure arithmetic unless a data source is named: no controller needed then.
    const body = planFromFlags(v);
    const request = parsePlanRequest(body);
    const plan = request.from
      ? await clientFrom(v, ctx.env).experiments.plan(request)
      : planCohortExperiment(request);
    if (v.json) writeJson(ctx.stdout, plan);
    else ctx.stdout.write(renderPlanText(plan));
    return 0;
  }
  const api = clientFrom(v, ctx.env);
  const needId = (): string => {
    if (!id) throw bmfError('BMF_ERR_USAGE', { reason: `${sub} needs an experiment id\n${USAGE}` });
    return id;
  };
  const show = (r: ExperimentRecord): void => {
    if (v.json) writeJson(ctx.stdout, r);
    else
      ctx.stdout.write(
        formatTable(HEADERS, [summary(r)]) + (r.state.reason ? `reason: ${r.state.reason}\n` : ''),
      );
  };
  switch (sub) {
    case 'create': {
      // Checked here with the server's own parser, so a bad flag fails before any request.
      let r = await api.experiments.create(parseExperimentSpec(specFromFlags(v)));
      if (v.start) r = await api.experiments.start(r.spec.id);
      show(r);
      return 0;
    }
    case 'list': {
      const experiments = await api.experiments.list();
      if (v.json) writeJson(ctx.stdout, experiments);
      else ctx.stdout.write(formatTable(HEADERS, experiments.map(summary)));
      return 0;
    }
    case 'show':
      show(await api.experiments.get(needId()));
      return 0;
    case 'start':
      show(await api.experiments.start(needId()));
      return 0;
    case 'report': {
      const expId = needId();
      if (v.html) {
        const html = await api.experiments.report(expId);
        await writeFileAtomic(v.html, html);
        ctx.stdout.write(`wrote ${v.html}\n`);
      }
      const analysis = await api.experiments.analysis(expId);
      if (v.json) writeJson(ctx.stdout, analysis);
      else ctx.stdout.write(renderExperimentTable(analysis));
      ctx.stdout.write(`HTML report: ${api.experiments.reportUrl(expId)}\n`);
      return 0;
    }
    case 'promote': {
      const r = await api.experiments.promote(needId());
      if (v.json) writeJson(ctx.stdout, r);
      else
        ctx.stdout.write(
          `promoted ${r.state.winner} of ${r.spec.id} through rollout ${r.state.rolloutId}\n`,
        );
      return 0;
    }
    case 'abort':
      show(await api.experiments.abort(needId(), v.reason));
      return 0;
    default:
      throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
  }
};
