// Devices: enrol (identity + one-time secret + agent config), list, show, remove, and direct
// assignment of a bundle to one device.
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { bmfError } from '../../../shared/errors.js';
import { isVariantName } from '../../../shared/ids.js';
import type { DeviceRecord } from '../../store/devices.js';
import type { VariantView } from '../schemas.js';
import {
  AssignmentAccepted,
  AssignmentBody,
  DeviceList,
  DeviceCreateBody,
  DeviceCreated,
  DeviceView,
  DeviceParams,
  responses,
} from '../schemas.js';
import type { ApiServices } from '../services.js';

type Variant = Static<typeof VariantView>;

/** The reported DeviceState (shared/wire) as stored by the device tracker, read defensively. */
function activeVariants(state: DeviceRecord['state']): Variant[] {
  const active = state?.active;
  if (!Array.isArray(active)) return [];
  return active.flatMap((a: unknown) => {
    const v = a as { variant?: unknown; bundleDigest?: unknown; bundleSequence?: unknown };
    // Stored states spell variants 'A'/'B': the store migration that re-spelled earlier rows is
    // 4 on SQLite, 3 on PostgreSQL.
    return typeof v.bundleDigest === 'string' &&
      typeof v.variant === 'string' &&
      isVariantName(v.variant)
      ? [
          {
            variant: v.variant,
            bundle: v.bundleDigest,
            sequence: typeof v.bundleSequence === 'number' ? v.bundleSequence : 0,
          },
        ]
      : [];
  });
}

export function deviceView(d: DeviceRecord): Static<typeof DeviceView> {
  const active = activeVariants(d.state);
  const s = d.state ?? {};
  return {
    id: d.id,
    chip: d.chip,
    tags: { ...d.tags },
    createdAt: d.createdAt,
    lastSeen: d.lastSeen,
    online: d.online,
    active,
    ...(active[0] ? { activeBundle: active[0].bundle, activeVariant: active[0].variant } : {}),
    ...(typeof s.status === 'string' ? { status: s.status } : {}),
    ...(typeof s.assignmentSequence === 'number'
      ? { assignmentSequence: s.assignmentSequence }
      : {}),
    ...(typeof s.lastErrorCode === 'string' && s.lastErrorCode
      ? { lastErrorCode: s.lastErrorCode }
      : {}),
  };
}

export function deviceRoutes(app: FastifyInstance, s: ApiServices): void {
  app.post<{ Body: Static<typeof DeviceCreateBody> }>(
    '/v1/devices',
    {
      schema: {
        summary: 'Enrol a device: identity, one-time secret and agent config',
        tags: ['devices'],
        body: DeviceCreateBody,
        response: responses({ 201: DeviceCreated }),
      },
    },
    async (req, reply) => {
      const { id, chip, tags = {} } = req.body;
      const { secret } = await s.devices.add(id, chip, tags, s.clock.wallNow());
      const agentConfig = await s.agentConfig({ id, chip }, secret);
      const trustRoot = JSON.parse(s.rootJson()) as unknown;
      return reply
        .status(201)
        .send({ device: deviceView(await s.devices.require(id)), secret, agentConfig, trustRoot });
    },
  );

  app.get(
    '/v1/devices',
    {
      schema: {
        summary: 'List devices with presence and active bundle',
        tags: ['devices'],
        response: responses({ 200: DeviceList }),
      },
    },
    async () => ({ devices: (await s.devices.list()).map(deviceView) }),
  );

  app.get<{ Params: Static<typeof DeviceParams> }>(
    '/v1/devices/:id',
    {
      schema: {
        summary: 'One device',
        tags: ['devices'],
        params: DeviceParams,
        response: responses({ 200: DeviceView }),
      },
    },
    async (req) => deviceView(await s.devices.require(req.params.id)),
  );

  app.delete<{ Params: Static<typeof DeviceParams> }>(
    '/v1/devices/:id',
    {
      schema: {
        summary: 'Remove a device (its credentials stop working)',
        tags: ['devices'],
        params: DeviceParams,
        response: responses({ 204: Type.Null() }),
      },
    },
    async (req, reply) => {
      if (!(await s.devices.remove(req.params.id))) {
        throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'device', id: req.params.id });
      }
      return reply.status(204).send();
    },
  );

  app.post<{ Params: Static<typeof DeviceParams>; Body: Static<typeof AssignmentBody> }>(
    '/v1/devices/:id/assignment',
    {
      schema: {
        summary: 'Assign a bundle to one device directly (signed, retained)',
        tags: ['devices'],
        params: DeviceParams,
        body: AssignmentBody,
        response: responses({ 202: AssignmentAccepted }),
      },
    },
    async (req, reply) => {
      const device = await s.devices.require(req.params.id);
      const bundle = await s.registry.getBundle(req.body.bundle);
      if (!bundle) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'bundle', id: req.body.bundle });
      await s.assignments.assignBundle(device.id, bundle.digest, 'operator');
      return reply.status(202).send({ device: device.id, bundle: bundle.digest });
    },
  );
}
