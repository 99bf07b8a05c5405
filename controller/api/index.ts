// The controller's REST API (fastify): every resource under /v1 (the probes /healthz, /readyz,
// /metrics and the docs at /docs stay at the root, where probes and scrapers look), one
// validator (TypeBox, validation.ts) on every route including the plugins of other parts,
// operator token authentication, one error shape. Returns the fastify instance unstarted so
// tests use inject() and main.ts decides where it listens.
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import { installOperatorAuth, type OperatorAuthOptions } from './auth.js';
import { typeboxValidatorCompiler } from './validation.js';
import { ErrorResponseSchema, installErrorHandling } from './errors.js';
import { createApiMetrics } from './metrics.js';
import { deviceRoutes } from './routes/devices.js';
import { healthRoutes } from './routes/health.js';
import { registryRoutes } from './routes/registry.js';
import { rolloutRoutes } from './routes/rollouts.js';
import { telemetryRoutes } from './routes/telemetry.js';
import type { ApiServices, RoutePlugin } from './services.js';

export interface CreateApiOptions extends ApiServices {
  readonly tokens: readonly string[];
  /** Read-only tokens and the dashboard's sessions (auth.ts). */
  readonly auth?: OperatorAuthOptions;
  readonly bodyLimit: number;
  readonly logger?: Logger | false;
  /** Route plugins of other parts (experiments, device-authenticated blob download). */
  readonly plugins?: readonly RoutePlugin[];
  readonly version?: string;
}

export async function createApi(opts: CreateApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger || undefined,
    logger: opts.logger ? undefined : false,
    bodyLimit: opts.bodyLimit,
    // Unknown fields are errors, not silently dropped: a typo in a rollout spec must not start
    // a rollout with defaults.
    ajv: { customOptions: { removeAdditional: false } },
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  installErrorHandling(app);
  installOperatorAuth(app, opts.tokens, opts.auth);
  app.addSchema(ErrorResponseSchema);

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'bmfleet controller',
        description: 'Devices, models, bundles, rollouts and telemetry of a bmfleet fleet.',
        version: opts.version ?? '0.1.0',
      },
      components: {
        securitySchemes: { operatorToken: { type: 'http', scheme: 'bearer' } },
      },
      security: [{ operatorToken: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const metrics = createApiMetrics({
    rollouts: opts.rollouts,
    ...(opts.metricLabels ? { labels: opts.metricLabels } : {}),
  });
  metrics.install(app);

  // Every route validates with TypeBox (validation.ts), the plugins of other parts too: one
  // validator, one error for one mistake.
  await app.register(async (scope) => {
    scope.setValidatorCompiler(typeboxValidatorCompiler);
    healthRoutes(scope, opts, metrics.render);
    deviceRoutes(scope, opts);
    registryRoutes(scope, opts);
    rolloutRoutes(scope, opts);
    telemetryRoutes(scope, opts);
    for (const plugin of opts.plugins ?? []) await plugin(scope);
  });
  await app.ready();
  return app;
}
