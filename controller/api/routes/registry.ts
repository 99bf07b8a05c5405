// Models and bundles: list, show, and import a signed bundle directory present on the
// controller host (the registry verifies it against the root before accepting it).
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { bmfError } from '../../../shared/errors.js';
import {
  BundleImportBody,
  BundleList,
  BundlesQuery,
  BundleView,
  DigestParams,
  ModelList,
  responses,
} from '../schemas.js';
import type { ApiServices, BundleDetail, BundleInfo } from '../services.js';
import { parseSignedRoot } from '../../../shared/trust/root.js';
import { bundleSignatures, manifestExpired } from '../../registry/signatures.js';

const summary = (b: BundleInfo): Static<typeof BundleView> => ({
  digest: b.digest,
  model: b.model,
  version: b.version,
  sequence: b.sequence,
  precision: b.precision,
  chips: [...b.chips],
  createdAt: b.createdAt,
});

export function bundleDetail(b: BundleDetail, s: ApiServices): Static<typeof BundleView> {
  const { root } = parseSignedRoot(s.rootJson());
  return {
    ...summary(b),
    runtime: b.manifest.runtime,
    files: b.manifest.files.map((f) => ({ ...f })),
    provenance: { ...b.manifest.provenance },
    metadata: { ...b.manifest.metadata },
    expires: b.manifest.expires,
    expired: manifestExpired(b.manifest.expires, s.clock.wallNow()),
    signatures: bundleSignatures(b.envelope, root).map((g) => ({ ...g, roles: [...g.roles] })),
  };
}

export function registryRoutes(app: FastifyInstance, s: ApiServices): void {
  app.get(
    '/v1/models',
    {
      schema: {
        summary: 'Models with their versions',
        tags: ['registry'],
        response: responses({ 200: ModelList }),
      },
    },
    async () => ({
      models: (await s.registry.listModels()).map((m) => ({
        ...m,
        ...(m.latest ? { latest: summary(m.latest) } : {}),
      })),
    }),
  );

  app.get<{ Querystring: Static<typeof BundlesQuery> }>(
    '/v1/bundles',
    {
      schema: {
        summary: 'Bundles, newest sequence first, optionally of one model',
        tags: ['registry'],
        querystring: BundlesQuery,
        response: responses({ 200: BundleList }),
      },
    },
    async (req) => ({
      bundles: (
        await s.registry.listBundles(
          req.query.model !== undefined ? { model: req.query.model } : {},
        )
      ).map(summary),
    }),
  );

  app.get<{ Params: Static<typeof DigestParams> }>(
    '/v1/bundles/:digest',
    {
      schema: {
        summary: 'One bundle with its manifest and provenance',
        tags: ['registry'],
        params: DigestParams,
        response: responses({ 200: BundleView }),
      },
    },
    async (req) => {
      const b = await s.registry.getBundle(req.params.digest);
      if (!b) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'bundle', id: req.params.digest });
      return bundleDetail(b, s);
    },
  );

  app.post<{ Body: Static<typeof BundleImportBody> }>(
    '/v1/bundles',
    {
      schema: {
        summary: 'Import a signed bundle directory present on the controller host',
        tags: ['registry'],
        body: BundleImportBody,
        response: responses({ 201: BundleView }),
      },
    },
    async (req, reply) =>
      reply.status(201).send(bundleDetail(await s.registry.importBundleDir(req.body.dir), s)),
  );
}
