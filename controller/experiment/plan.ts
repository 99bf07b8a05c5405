// Sizing a cohort experiment in devices (shared/stats/hypothesis/cluster-sample-size.ts): the request
// validated at the edge, the plan from given and estimated inputs, and its text form for the
// CLI. Given values win over estimates; an estimate fills what was not given and is shown
// either way so the two can be compared. Pure.
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { bmfError } from '../../shared/errors.js';
import {
  deviceAccuracySampleSize,
  deviceLatencySampleSize,
  type IccEstimate,
  type LatencySpreadEstimate,
} from '../../shared/stats/hypothesis/index.js';
import { MIN_DEVICES_FOR_VERDICT } from './metrics-by-device.js';
import {
  agreementSampleSize,
  boxesPerImageSampleSize,
  type AgreementSize,
  type BoxesPerImageSize,
} from './plan-detection.js';
import { DEFAULT_ALPHA } from './model.js';

const Positive = Type.Number({ exclusiveMinimum: 0 });

export const PlanRequestSchema = Type.Object(
  {
    /** precision, recall: a detector's, at IoU 0.5 from box feedback (proportions over boxes). */
    metric: Type.Union([
      Type.Literal('accuracy'),
      Type.Literal('latency'),
      Type.Literal('precision'),
      Type.Literal('recall'),
      Type.Literal('agreement'),
      Type.Literal('boxes-per-image'),
    ]),
    /**
     * Accuracy: absolute change (0.01 = 1 point); latency, boxes-per-image: relative change
     * (0.05 = 5 %); agreement: the margin, the largest half-width of the F1 interval.
     */
    mde: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }),
    /** Accuracy: baseline proportion; latency: mean device median in ms. */
    baseline: Type.Optional(Positive),
    /** Requests per device over the whole experiment. */
    requestsPerDevice: Type.Optional(Type.Number({ minimum: 1, maximum: 1e9 })),
    icc: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    betweenSdMs: Type.Optional(Type.Number({ minimum: 0 })),
    withinSdMs: Type.Optional(Type.Number({ minimum: 0 })),
    alpha: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 0.2 })),
    power: Type.Optional(Type.Number({ minimum: 0.5, exclusiveMaximum: 1 })),
    /**
     * Boxes-per-image: SD of one image's detections; agreement: per-image SD of the linearised
     * matched-box F1 (plan-detection.ts).
     */
    perImageSd: Type.Optional(Positive),
    /** Agreement: share of A's requests B also runs in the shadow (default 1). */
    shadowShare: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
    /** Agreement: requests per second the experiment's devices serve together, for hours. */
    requestsPerSecond: Type.Optional(Positive),
    /** Latency stage to estimate from (default e2e). */
    stage: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    /** Estimate the unknowns from a previous experiment or from a bundle's recent telemetry. */
    from: Type.Optional(
      Type.Union([
        Type.Object(
          { experiment: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }) },
          { additionalProperties: false },
        ),
        Type.Object(
          {
            /** Digest or unique prefix (>= 8 hex). */
            bundle: Type.String({ pattern: '^[0-9a-fA-F]{1,64}$' }),
            /** Look back this far from now (default one day). */
            sinceMs: Type.Optional(Type.Integer({ minimum: 60_000, maximum: 90 * 86_400_000 })),
          },
          { additionalProperties: false },
        ),
      ]),
    ),
  },
  { additionalProperties: false },
);

export type PlanRequest = Static<typeof PlanRequestSchema>;

export const DEFAULT_POWER = 0.8;
export const DEFAULT_PLAN_WINDOW_MS = 86_400_000;

export function parsePlanRequest(body: unknown): PlanRequest {
  if (!Value.Check(PlanRequestSchema, body)) {
    const first = [...Value.Errors(PlanRequestSchema, body)][0];
    throw bmfError('BMF_ERR_BAD_REQUEST', {
      reason: first ? `${first.path || '/'}: ${first.message}` : 'invalid plan request',
    });
  }
  return body;
}

/** What per-device data said, and where it came from. */
export interface PlanEstimates {
  /** e.g. "experiment int8-vs-fp32 (arms A, B)". */
  readonly source: string;
  readonly accuracy?: IccEstimate & {
    readonly outcome: 'feedback' | 'golden' | 'detection.precision' | 'detection.recall';
  };
  readonly latency?: LatencySpreadEstimate & { readonly stage: string };
  /** Per-image figures over all devices (boxes-per-image, agreement). */
  readonly perImage?: { readonly images: number; readonly baseline: number; readonly sd: number };
}

export interface PlanInput {
  readonly value: number;
  readonly from: 'given' | 'estimated';
  /** What the data said, when a source was named and it could tell. */
  readonly estimate?: number;
}

export interface CohortPlan {
  readonly metric: PlanRequest['metric'];
  readonly alpha: number;
  readonly power: number;
  readonly mde: number;
  readonly inputs: Readonly<Record<string, PlanInput>>;
  readonly estimates?: PlanEstimates;
  /** Accuracy: independent requests per arm and the design effect. */
  readonly requestsPerArm?: { readonly fixed: number; readonly sequential: number };
  readonly designEffect?: number;
  /** Latency: shift, SD of a device median, the means formula for reference. */
  readonly shiftMs?: number;
  readonly deviceSdMs?: number;
  readonly meansPerArm?: number;
  /** Devices per arm (at least MIN_DEVICES_FOR_VERDICT); absent when images are the unit. */
  readonly devicesPerArm?: { readonly fixed: number; readonly sequential: number };
  /** Agreement and boxes-per-image: the per-image sizing (plan-detection.ts). */
  readonly agreement?: AgreementSize;
  readonly boxesPerImage?: BoxesPerImageSize;
  readonly notes: readonly string[];
}

function picker(estimates: PlanEstimates | undefined) {
  const why = estimates
    ? `${estimates.source} has too little per-device data to estimate it`
    : 'give it, or a previous experiment or bundle telemetry to estimate it from';
  return (name: string, given: number | undefined, estimated: number | undefined): PlanInput => {
    const known = estimated !== undefined && Number.isFinite(estimated);
    if (given !== undefined)
      return { value: given, from: 'given', ...(known ? { estimate: estimated } : {}) };
    if (known) return { value: estimated, from: 'estimated', estimate: estimated };
    throw bmfError('BMF_ERR_EXPERIMENT_PLAN', { reason: `${name} is needed: ${why}` });
  };
}

/** Devices per arm from the request and, when a data source was given, its estimates. */
export function planCohortExperiment(req: PlanRequest, estimates?: PlanEstimates): CohortPlan {
  const alpha = req.alpha ?? DEFAULT_ALPHA;
  const power = req.power ?? DEFAULT_POWER;
  const notes: string[] = [];
  const floor = (n: number): number => Math.max(MIN_DEVICES_FOR_VERDICT, n);
  const floored = (d: { fixedPerArm: number; sequentialPerArm: number }) => {
    if (Math.min(d.fixedPerArm, d.sequentialPerArm) < MIN_DEVICES_FOR_VERDICT)
      notes.push(`raised to ${MIN_DEVICES_FOR_VERDICT} devices per arm, the analysis's minimum`);
    return { fixed: floor(d.fixedPerArm), sequential: floor(d.sequentialPerArm) };
  };
  const pick = picker(estimates);
  const perDevice = (m: PlanInput): PlanInput => {
    if (m.from === 'estimated')
      notes.push(
        'requests per device are those of the source window; give requestsPerDevice when ' +
          'the new experiment runs longer or shorter',
      );
    return m;
  };
  if (req.metric === 'agreement') {
    const sd = pick('perImageSd', req.perImageSd, estimates?.perImage?.sd);
    const share = req.shadowShare ?? 1;
    const size = agreementSampleSize(sd.value, req.mde, alpha, share, req.requestsPerSecond);
    notes.push(
      'agreement is one figure over shadowed images, not per arm; the interval is the ' +
        "report's always-valid one, sized for its half-width",
    );
    return {
      metric: req.metric,
      alpha,
      power,
      mde: req.mde,
      inputs: { perImageSd: sd, shadowShare: { value: share, from: 'given' } },
      ...(estimates ? { estimates } : {}),
      agreement: size,
      notes,
    };
  }
  if (req.metric === 'boxes-per-image') {
    const e = estimates?.perImage;
    const baseline = pick('baseline', req.baseline, e?.baseline);
    const sd = pick('perImageSd', req.perImageSd, e?.sd);
    const cohort =
      req.requestsPerDevice !== undefined && req.icc !== undefined
        ? { requestsPerDevice: req.requestsPerDevice, icc: req.icc }
        : undefined;
    const size = boxesPerImageSampleSize(baseline.value, sd.value, req.mde, alpha, power, cohort);
    if (!cohort)
      notes.push('images per arm only: give requestsPerDevice and icc for devices per arm');
    return {
      metric: req.metric,
      alpha,
      power,
      mde: req.mde,
      inputs: {
        baseline,
        perImageSd: sd,
        ...(cohort
          ? {
              requestsPerDevice: { value: cohort.requestsPerDevice, from: 'given' as const },
              icc: { value: cohort.icc, from: 'given' as const },
            }
          : {}),
      },
      ...(estimates ? { estimates } : {}),
      boxesPerImage: size,
      ...(size.devicesPerArm
        ? {
            devicesPerArm: floored({
              fixedPerArm: size.devicesPerArm.fixed,
              sequentialPerArm: size.devicesPerArm.sequential,
            }),
          }
        : {}),
      notes,
    };
  }
  if (req.metric !== 'latency') {
    const e = estimates?.accuracy;
    const baseline = pick('baseline', req.baseline, e?.baseline);
    const m = perDevice(pick('requestsPerDevice', req.requestsPerDevice, e?.requestsPerDevice));
    const icc = pick('icc', req.icc, e?.icc);
    if (!(baseline.value < 1 && baseline.value - req.mde > 0)) {
      throw bmfError('BMF_ERR_EXPERIMENT_PLAN', {
        reason: `${req.metric} baseline ${baseline.value} with a change of ${req.mde} leaves (0, 1)`,
      });
    }
    if (e && e.devices < 30)
      notes.push(`ICC estimated from ${e.devices} devices only: treat it as rough`);
    const s = deviceAccuracySampleSize(
      baseline.value,
      req.mde,
      { icc: icc.value, requestsPerDevice: m.value },
      { alpha, power },
    );
    if (req.metric !== 'accuracy')
      notes.push(
        `${req.metric} counts boxes: "requests" per device below are ground-truth boxes (recall) or detections (precision)`,
      );
    return {
      metric: req.metric,
      alpha,
      power,
      mde: req.mde,
      inputs: { baseline, requestsPerDevice: m, icc },
      ...(estimates ? { estimates } : {}),
      requestsPerArm: { fixed: s.requests.fixedPerArm, sequential: s.requests.sequentialPerArm },
      designEffect: s.designEffect,
      devicesPerArm: floored(s),
      notes,
    };
  }
  const e = estimates?.latency;
  const baseline = pick('baseline', req.baseline, e?.baselineMs);
  const m = perDevice(pick('requestsPerDevice', req.requestsPerDevice, e?.requestsPerDevice));
  const between = pick('betweenSdMs', req.betweenSdMs, e?.betweenSdMs);
  const within = pick('withinSdMs', req.withinSdMs, e?.withinSdMs);
  if (e && e.devices < 30)
    notes.push(`between-device SD estimated from ${e.devices} devices only: treat it as rough`);
  const s = deviceLatencySampleSize(
    {
      baselineMs: baseline.value,
      betweenSdMs: between.value,
      withinSdMs: within.value,
      requestsPerDevice: m.value,
    },
    req.mde,
    { alpha, power },
  );
  return {
    metric: 'latency',
    alpha,
    power,
    mde: req.mde,
    inputs: { baseline, requestsPerDevice: m, betweenSdMs: between, withinSdMs: within },
    ...(estimates ? { estimates } : {}),
    shiftMs: s.shiftMs,
    deviceSdMs: s.deviceSdMs,
    meansPerArm: s.meansPerArm,
    devicesPerArm: floored(s),
    notes,
  };
}

const fmt = (x: number, d = 4): string =>
  Number.isFinite(x) ? String(Number(x.toPrecision(d))) : String(x);

/** Text for `bmfleet experiment plan`. */
export function renderPlanText(p: CohortPlan): string {
  const given = (name: string, unit = ''): string => {
    const v = p.inputs[name]!;
    const also =
      v.from === 'given' && v.estimate !== undefined ? `; estimated ${fmt(v.estimate)}${unit}` : '';
    return `${fmt(v.value)}${unit} (${v.from}${also})`;
  };
  const lines: string[] = [];
  if (p.agreement) {
    const a = p.agreement;
    lines.push(
      `plan: A-vs-B matched-box F1 (shadow), interval half-width at most ${fmt(p.mde)}, alpha ${p.alpha}`,
      `  per-image SD (linearised)  ${given('perImageSd')}`,
      `  shadow share               ${given('shadowShare')}`,
      `  shadowed images            ${a.images.sequential} always-valid (the report's interval), ${a.images.fixed} fixed horizon`,
      `  requests                   ${a.requests.sequential} always-valid, ${a.requests.fixed} fixed horizon`,
    );
    if (a.hours)
      lines.push(
        `  hours at the given rate    ${fmt(a.hours.sequential)} always-valid, ${fmt(a.hours.fixed)} fixed horizon`,
      );
  } else if (p.boxesPerImage) {
    const b = p.boxesPerImage;
    lines.push(
      `plan: detections per image ${fmt(p.inputs['baseline']!.value)}, change ${fmt(p.mde * 100)} % = ${fmt(b.shift)}, alpha ${p.alpha}, power ${p.power}`,
      `  per-image SD               ${given('perImageSd')}`,
      `  images per arm             ${b.imagesPerArm.sequential} always-valid, ${b.imagesPerArm.fixed} fixed horizon`,
    );
    if (b.designEffect !== undefined)
      lines.push(
        `  requests per device (m)    ${given('requestsPerDevice')}`,
        `  intra-device correlation   ${given('icc')}`,
        `  design effect              1 + (m - 1) ICC = ${fmt(b.designEffect)}`,
      );
  } else if (p.metric !== 'latency') {
    const m = p.inputs['requestsPerDevice']!.value;
    const b = p.inputs['baseline']!.value;
    const icc = p.inputs['icc']!.value;
    lines.push(
      `cohort plan: ${p.metric} ${fmt(b * 100)} % -> ${fmt((b - p.mde) * 100)} % (change ${fmt(p.mde * 100)} pt), alpha ${p.alpha}, power ${p.power}`,
      `  baseline ${p.metric.padEnd(18)}${given('baseline')}`,
      `  requests per device (m)    ${given('requestsPerDevice')}`,
      `  intra-device correlation   ${given('icc')}`,
      `  design effect              1 + (m - 1) ICC = 1 + (${fmt(m)} - 1) x ${fmt(icc)} = ${fmt(p.designEffect!)}`,
      `  independent requests/arm   ${p.requestsPerArm!.fixed} fixed horizon, ${p.requestsPerArm!.sequential} always-valid`,
    );
  } else {
    lines.push(
      `cohort plan: latency ${fmt(p.inputs['baseline']!.value)} ms (mean device median), change ${fmt(p.mde * 100)} % = ${fmt(p.shiftMs!)} ms, alpha ${p.alpha}, power ${p.power}`,
      `  requests per device (m)    ${given('requestsPerDevice')}`,
      `  between-device SD          ${given('betweenSdMs', ' ms')}`,
      `  within-device SD           ${given('withinSdMs', ' ms')}`,
      `  SD of a device median      sqrt(between^2 + (pi/2) within^2 / m) = ${fmt(p.deviceSdMs!)} ms`,
      `  two-sample z on means      ${p.meansPerArm} devices per arm (reference)`,
    );
  }
  if (p.devicesPerArm)
    lines.push(
      `devices per arm: ${p.devicesPerArm.fixed} for one look at the end (fixed horizon), ` +
        `${p.devicesPerArm.sequential} for the always-valid verdict (look any time)`,
    );
  if (p.estimates) lines.push(`estimated from ${p.estimates.source}`);
  for (const n of p.notes) lines.push(`note: ${n}`);
  return lines.join('\n') + '\n';
}
