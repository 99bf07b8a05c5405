// Telemetry queries: per device, bundle (model version), variant, time range, and the merged
// health of one rollout group (the same figures the rollout's health gate judges).
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { bmfError } from '../../../shared/errors.js';
import {
  GroupHealthView,
  GroupParams,
  TelemetryQuery,
  TelemetrySummaryView,
  responses,
} from '../schemas.js';
import type { ApiServices } from '../services.js';

const DEFAULT_WINDOW_MS = 3_600_000;

export function telemetryRoutes(app: FastifyInstance, s: ApiServices): void {
  app.get<{ Querystring: Static<typeof TelemetryQuery> }>(
    '/v1/telemetry',
    {
      schema: {
        summary: 'Per-minute telemetry rollups for a device, bundle or variant over a time range',
        tags: ['telemetry'],
        querystring: TelemetryQuery,
        response: responses({ 200: TelemetrySummaryView }),
      },
    },
    async (req) => {
      const q = req.query;
      if (q.from !== undefined && q.to !== undefined && q.from > q.to) {
        throw bmfError('BMF_ERR_BAD_REQUEST', { field: 'querystring.from', reason: 'from > to' });
      }
      if (q.device !== undefined) await s.devices.require(q.device);
      const now = s.clock.wallNow();
      // Default window: the last hour, up to a minute ahead (device clocks run a little fast).
      return s.telemetry.query({
        ...(q.device !== undefined ? { deviceIds: [q.device] } : {}),
        ...(q.bundle !== undefined ? { bundle: await s.registry.resolveDigest(q.bundle) } : {}),
        ...(q.variant !== undefined ? { variant: q.variant } : {}),
        fromMs: q.from ?? now - DEFAULT_WINDOW_MS,
        toMs: q.to ?? now + 60_000,
      });
    },
  );

  app.get<{ Params: Static<typeof GroupParams> }>(
    '/v1/telemetry/rollouts/:id/groups/:n',
    {
      schema: {
        summary: 'Merged telemetry of one rollout group on the rollout bundle',
        tags: ['telemetry'],
        params: GroupParams,
        response: responses({ 200: GroupHealthView }),
      },
    },
    async (req) => {
      const { spec, state, createdAt } = await s.rollouts.require(req.params.id);
      const ids = spec.groups[req.params.n];
      if (!ids) {
        throw bmfError('BMF_ERR_NOT_FOUND', {
          kind: 'rollout group',
          id: `${req.params.id}/${req.params.n}`,
        });
      }
      const since = req.params.n === state.group ? (state.soakStartedAt ?? createdAt) : createdAt;
      const baseline = ids.map((id) => state.devices[id]?.previousBundle).find(Boolean);
      const health = (await s.telemetry.groupHealth(ids, spec.bundle, since, baseline)) ?? null;
      return {
        rollout: spec.id,
        group: req.params.n,
        bundle: spec.bundle,
        devices: ids.length,
        sinceMs: since,
        health,
      };
    },
  );
}
