// The controller's configuration: defaults < controller.json < BMFLEET_* environment < flags,
// validated at the edge (shared/config/load.ts) and frozen. Paths derived from the data dir
// (keys, secrets, token) are resolved here so the program never guesses them twice.
import { Type, type Static } from '@sinclair/typebox';
import { join, resolve } from 'node:path';
import { BrokerUrlSchema, FailoverUrlsSchema } from '../shared/config/broker-url.js';
import { loadConfig, type LoadConfigOptions } from '../shared/config/load.js';
import { bmfError } from '../shared/errors.js';
import { LOG_LEVELS } from '../shared/log.js';

const Port = Type.Integer({ minimum: 0, maximum: 65535 });
const Strict = { additionalProperties: false } as const;

const EmbeddedBroker = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1' }),
    /** 0 picks a free port (tests). */
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 1883 }),
    tls: Type.Optional(
      Type.Object({ port: Port, certFile: Type.String(), keyFile: Type.String() }, Strict),
    ),
    wsPort: Type.Optional(Port),
  },
  Strict,
);

/** An external broker (Mosquitto, EMQX...) and the controller's credentials on it. */
interface ExternalBroker {
  readonly url: string;
  /** Further nodes of a clustered broker the controller's links go to when `url` is lost. */
  readonly failoverUrls: readonly string[];
  readonly username?: string;
  readonly password?: string;
  readonly protocolVersion: 4 | 5;
  /** Device messages from a JetStream stream shared by the replicas (jetstream-link.ts). */
  readonly jetstream?: Static<typeof JetStreamIntake>;
  /** This replica's name in its MQTT client ids (unique per replica). */
  readonly replicaId?: string;
}

/** NATS: device messages taken from the MQTT listener's QoS 1 stream, shared out among replicas. */
const JetStreamIntake = Type.Object(
  {
    servers: Type.Array(Type.String({ pattern: '^(nats|tls)://' }), { minItems: 1 }),
    consumer: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]+$' })),
    ackWaitMs: Type.Optional(Type.Integer({ minimum: 1000 })),
    user: Type.Optional(Type.String()),
    pass: Type.Optional(Type.String()),
  },
  Strict,
);

export const ControllerConfigSchema = Type.Object(
  {
    dataDir: Type.String({ default: './.bmfleet/controller' }),
    /** Defaults to <dataDir>/keys; created with `keys init` on first start when absent. */
    keysDir: Type.Optional(Type.String()),
    /**
     * postgres://user:password@host:5432/db (or ?host=/socket/dir): controller replicas share it.
     * Absent: the SQLite file in dataDir. Checked when opened (BMF_ERR_STORE_URL).
     */
    store: Type.Optional(Type.String({ minLength: 1 })),
    /** Bundle blobs; a directory every replica mounts when several share a store. */
    blobDir: Type.Optional(Type.String()),
    broker: Type.Object(
      {
        embedded: Type.Optional(EmbeddedBroker),
        url: Type.Optional(BrokerUrlSchema),
        /** Further nodes of a clustered broker, tried in turn when a connection is lost. */
        failoverUrls: Type.Optional(FailoverUrlsSchema),
        username: Type.Optional(Type.String()),
        password: Type.Optional(Type.String()),
        protocolVersion: Type.Optional(Type.Union([Type.Literal(4), Type.Literal(5)])),
        jetstream: Type.Optional(JetStreamIntake),
        /** Names this replica in its MQTT client ids; defaults to host name and process id. */
        replicaId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]+$' })),
        /** Broker URL written into agent configs (defaults to the listening address). */
        advertisedUrl: Type.Optional(BrokerUrlSchema),
        /** Failover URLs written into agent configs (defaults to failoverUrls, without advertisedUrl). */
        advertisedFailoverUrls: Type.Optional(FailoverUrlsSchema),
      },
      { ...Strict, default: {} },
    ),
    api: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8480 }),
        /** Operator tokens; when absent one is generated into <dataDir>/operator-token. */
        tokens: Type.Optional(Type.Array(Type.String({ minLength: 16 }), { minItems: 1 })),
        /** Tokens that read everything and change nothing (API and dashboard). */
        readOnlyTokens: Type.Optional(Type.Array(Type.String({ minLength: 16 }))),
        bodyLimitBytes: Type.Integer({ minimum: 1024, default: 1 << 20 }),
      },
      { ...Strict, default: {} },
    ),
    rollout: Type.Object(
      { tickMs: Type.Integer({ minimum: 10, default: 1000 }) },
      { ...Strict, default: {} },
    ),
    /** Guardrail looks at every running experiment (lease holder only): 1 s to 1 h, 5 min. */
    experiments: Type.Object(
      { lookIntervalMs: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 300_000 }) },
      { ...Strict, default: {} },
    ),
    telemetry: Type.Object(
      { retentionDays: Type.Integer({ minimum: 1, default: 30 }) },
      { ...Strict, default: {} },
    ),
    /** Device events (and command acks): rate limit per device and retention. */
    events: Type.Object(
      {
        ratePerSecond: Type.Number({ exclusiveMinimum: 0, default: 1 }),
        burst: Type.Integer({ minimum: 1, default: 60 }),
        retentionDays: Type.Integer({ minimum: 1, default: 30 }),
        maxPerDevice: Type.Integer({ minimum: 10, default: 10_000 }),
      },
      { ...Strict, default: {} },
    ),
    logLevel: Type.Union(
      LOG_LEVELS.map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
  },
  Strict,
);

export type ControllerConfig = Readonly<Static<typeof ControllerConfigSchema>>;

export const ENV_PREFIX = 'BMFLEET';

/** Load and validate; throws BMF_ERR_CONFIG_INVALID naming the bad field. */
export function loadControllerConfig(
  options: Omit<LoadConfigOptions, 'envPrefix'> = {},
): ControllerConfig {
  const config = loadConfig(ControllerConfigSchema, { ...options, envPrefix: ENV_PREFIX });
  const b = config.broker;
  // Failover URLs follow a first node; without broker.url the embedded broker runs, alone.
  for (const field of ['failoverUrls', 'advertisedFailoverUrls'] as const) {
    if (!b.url && (b[field]?.length ?? 0) > 0) {
      throw bmfError('BMF_ERR_CONFIG_INVALID', {
        field: `broker.${field}`,
        reason: 'needs broker.url (an external broker)',
      });
    }
  }
  return config;
}

export type BrokerPlan =
  | { readonly kind: 'embedded'; readonly options: Static<typeof EmbeddedBroker> }
  | { readonly kind: 'external'; readonly options: ExternalBroker };

/** An explicit URL means an external broker; otherwise the embedded one with its defaults. */
export function brokerPlan(config: ControllerConfig): BrokerPlan {
  const b = config.broker;
  if (b.url) {
    return {
      kind: 'external',
      options: {
        url: b.url,
        failoverUrls: b.failoverUrls ?? [],
        protocolVersion: b.protocolVersion ?? 5,
        ...(b.username !== undefined ? { username: b.username } : {}),
        ...(b.password !== undefined ? { password: b.password } : {}),
        ...(b.jetstream !== undefined ? { jetstream: b.jetstream } : {}),
        ...(b.replicaId !== undefined ? { replicaId: b.replicaId } : {}),
      },
    };
  }
  return {
    kind: 'embedded',
    options: { host: '127.0.0.1', port: 1883, ...(b.embedded ?? {}) },
  };
}

export interface ControllerPaths {
  readonly dataDir: string;
  readonly keysDir: string;
  readonly database: string;
  readonly blobDir: string;
  readonly controllerSecret: string;
  readonly operatorToken: string;
}

export function controllerPaths(config: ControllerConfig): ControllerPaths {
  const dataDir = resolve(config.dataDir);
  return {
    dataDir,
    keysDir: resolve(config.keysDir ?? join(dataDir, 'keys')),
    database: join(dataDir, 'controller.db'),
    blobDir: resolve(config.blobDir ?? join(dataDir, 'blobs')),
    controllerSecret: join(dataDir, 'controller-secret'),
    operatorToken: join(dataDir, 'operator-token'),
  };
}
