// The agent's configuration (agent.json, BMFLEET_AGENT_* variables, flags), validated at the edge
// by shared/config/load.ts and deep-frozen before any part sees it.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { dirname, isAbsolute, resolve } from 'node:path';
import { deepFreeze, loadConfig } from '../shared/config/load.js';
import { EnrolmentConfigSchema } from '../shared/config/enrolment.js';
import { LOG_LEVELS } from '../shared/log.js';
import type { LoadConfigOptions } from '../shared/config/load.js';

// The fields the controller fills when it enrols a device (shared/config/enrolment.ts), then the
// agent's own settings.
export const AgentConfigSchema = Type.Object(
  {
    ...EnrolmentConfigSchema.properties,
    /** The pinned trust root embedded (self-contained agent.json, `device add --out`). */
    root: Type.Optional(Type.Unknown()),
    /** Simulator timing: `host` as measured, `modeled` padded to the cost model's latency. */
    timing: Type.Union([Type.Literal('host'), Type.Literal('modeled')], { default: 'host' }),
    api: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        host: Type.String({ default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8470 }),
        /** Largest request body (image or JSON); larger ones get 413 BMF_ERR_BODY_TOO_LARGE. */
        maxBodyBytes: Type.Integer({
          minimum: 1024,
          maximum: 256 * 1024 * 1024,
          default: 16 << 20,
        }),
        /**
         * Request bodies read at once; more get 503 BMF_ERR_AGENT_BUSY before a byte is read, so
         * bodies hold at most maxBodyBytes x maxConcurrentBodies of memory.
         */
        maxConcurrentBodies: Type.Integer({ minimum: 1, maximum: 1024, default: 4 }),
      },
      { additionalProperties: false, default: {} },
    ),
    telemetry: Type.Object(
      {
        intervalMs: Type.Integer({ minimum: 100, default: 10_000 }),
        outboxLimit: Type.Integer({ minimum: 1, default: 1000 }),
        /** Re-run the golden set on the serving variants this often (0 = only at activation). */
        goldenIntervalMs: Type.Integer({ minimum: 0, default: 3_600_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    fetch: Type.Object(
      {
        maxInFlight: Type.Integer({ minimum: 1, maximum: 256, default: 8 }),
        requestTimeoutMs: Type.Integer({ minimum: 10, default: 5000 }),
        /**
         * Optional HTTP Range download from the controller (`GET /v1/blobs/:digest`, Basic auth
         * with the device id and broker password). The chunk table still comes over MQTT.
         */
        http: Type.Optional(
          Type.Object(
            {
              url: Type.String({ pattern: '^https?://[^\\s]+$' }),
              maxInFlight: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
              timeoutMs: Type.Integer({ minimum: 100, default: 30_000 }),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    store: Type.Object(
      {
        /**
         * Bundles kept beyond the active ones, the last-known-good ones and the current target:
         * the most recently served others, newest first. Blobs of every other bundle are deleted.
         */
        keepExtraBundles: Type.Integer({ minimum: 0, default: 1 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Requests a health window needs before it judges error rate and p95. */
    healthMinRequests: Type.Integer({ minimum: 1, default: 20 }),
    /** Log lines on stderr at this level and above (`--verbose` is `debug`). */
    logLevel: Type.Union(
      LOG_LEVELS.map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
  },
  { additionalProperties: false },
);
export type AgentConfig = Static<typeof AgentConfigSchema>;

export function loadAgentConfig(options: LoadConfigOptions): Readonly<AgentConfig> {
  const config = loadConfig(AgentConfigSchema, { envPrefix: 'BMFLEET_AGENT', ...options });
  const fromElsewhere =
    options.flags?.rootFile !== undefined || options.env?.BMFLEET_AGENT_ROOT_FILE !== undefined;
  if (!options.file || fromElsewhere || isAbsolute(config.rootFile)) return config;
  // A relative rootFile in agent.json names the file beside it, wherever the agent runs from.
  return deepFreeze({ ...config, rootFile: resolve(dirname(options.file), config.rootFile) });
}
