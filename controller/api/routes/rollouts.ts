// Rollouts: create (filter resolved to device ids and split into groups now, so later
// enrolments do not change a running rollout), list, show with per-group progress, commands,
// and the event log.
import { randomBytes } from 'node:crypto';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { bmfError } from '../../../shared/errors.js';
import type { RolloutSpec } from '../../rollout/model.js';
import { matchesFilter, splitGroups } from '../../rollout/plan.js';
import type { RolloutRecord } from '../../store/rollouts.js';
import {
  EventsQuery,
  IdParams,
  RolloutCommandParams,
  RolloutCreateBody,
  RolloutEventList,
  RolloutList,
  RolloutView,
  responses,
} from '../schemas.js';
import type { ApiServices } from '../services.js';

export function rolloutView(r: RolloutRecord, withDevices: boolean): Static<typeof RolloutView> {
  const groups = r.spec.groups.map((ids, index) => {
    const counts: Record<string, number> = {};
    for (const id of ids) {
      const st = r.state.devices[id]?.status ?? 'pending';
      counts[st] = (counts[st] ?? 0) + 1;
    }
    return { index, size: ids.length, counts };
  });
  return {
    id: r.spec.id,
    bundle: r.spec.bundle,
    status: r.state.status,
    group: r.state.group,
    ...(r.state.reason ? { reason: r.state.reason } : {}),
    createdAt: r.createdAt,
    updatedAt: r.state.updatedAt,
    groups,
    spec: { ...r.spec, groups: r.spec.groups.map((g) => g.length) },
    ...(withDevices ? { devices: { ...r.state.devices } } : {}),
  };
}

const newRolloutId = (now: number): string =>
  `ro-${now.toString(36)}-${randomBytes(3).toString('hex')}`;

export function rolloutRoutes(app: FastifyInstance, s: ApiServices): void {
  app.post<{ Body: Static<typeof RolloutCreateBody> }>(
    '/v1/rollouts',
    {
      schema: {
        summary: 'Start a staged rollout of a bundle to the devices matching a filter',
        tags: ['rollouts'],
        body: RolloutCreateBody,
        response: responses({ 201: RolloutView }),
      },
    },
    async (req, reply) => {
      const b = req.body;
      const bundle = await s.registry.getBundle(b.bundle);
      if (!bundle) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'bundle', id: b.bundle });
      if (b.errorThreshold.count === undefined && b.errorThreshold.percent === undefined) {
        throw bmfError('BMF_ERR_BAD_REQUEST', {
          field: 'body.errorThreshold',
          reason: 'body.errorThreshold needs count or percent',
        });
      }
      const targets = (await s.devices.list())
        .filter((d) => matchesFilter(d, b.filter))
        .map((d) => d.id);
      if (targets.length === 0) throw bmfError('BMF_ERR_ROLLOUT_EMPTY');
      const spec: RolloutSpec = {
        id: b.id ?? newRolloutId(s.clock.wallNow()),
        bundle: bundle.digest,
        groups: splitGroups(targets, b.groups),
        successThresholdPct: b.successThresholdPct,
        afterGroup: b.afterGroup,
        errorThreshold: b.errorThreshold,
        onError: b.onError,
        deviceTimeoutMs: b.deviceTimeoutMs,
        maxRetries: b.maxRetries,
        maxStartsPerMinute: b.maxStartsPerMinute,
        ...(b.healthGate ? { healthGate: b.healthGate } : {}),
      };
      await s.executor.create(spec);
      return reply.status(201).send(rolloutView(await s.rollouts.require(spec.id), false));
    },
  );

  app.get(
    '/v1/rollouts',
    {
      schema: {
        summary: 'Rollouts, newest first',
        tags: ['rollouts'],
        response: responses({ 200: RolloutList }),
      },
    },
    async () => ({ rollouts: (await s.rollouts.list()).map((r) => rolloutView(r, false)) }),
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/v1/rollouts/:id',
    {
      schema: {
        summary: 'Rollout state with per-group and per-device progress',
        tags: ['rollouts'],
        params: IdParams,
        response: responses({ 200: RolloutView }),
      },
    },
    async (req) => rolloutView(await s.rollouts.require(req.params.id), true),
  );

  app.post<{ Params: Static<typeof RolloutCommandParams> }>(
    '/v1/rollouts/:id/:command',
    {
      schema: {
        summary: 'pause | resume | approve | cancel | rollback (409 when not allowed now)',
        tags: ['rollouts'],
        params: RolloutCommandParams,
        response: responses({ 200: RolloutView }),
      },
    },
    async (req) => {
      await s.rollouts.require(req.params.id);
      await s.executor.command(req.params.id, req.params.command);
      return rolloutView(await s.rollouts.require(req.params.id), false);
    },
  );

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof EventsQuery> }>(
    '/v1/rollouts/:id/events',
    {
      schema: {
        summary: 'Rollout event log (page with ?after=<last id>)',
        tags: ['rollouts'],
        params: IdParams,
        querystring: EventsQuery,
        response: responses({ 200: RolloutEventList }),
      },
    },
    async (req) => {
      await s.rollouts.require(req.params.id);
      return { events: await s.rollouts.events(req.params.id, req.query.after, req.query.limit) };
    },
  );
}
