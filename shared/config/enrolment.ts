// The part of an agent's configuration the controller writes when it enrols a device
// (`POST /v1/devices`, `bmfleet device add --out agent.json`): one schema that agent/config.ts
// extends with the agent's own settings, and that the controller fills. Nothing else spells
// these fields.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { CHIPS } from '../bundle/manifest.js';
import { bmfError } from '../errors.js';
import { DeviceIdSchema } from '../ids.js';
import { BROKER_URL_PATTERN, FailoverUrlsSchema } from './broker-url.js';

/**
 * Where an enrolled agent keeps its state unless its config says otherwise: under the
 * StateDirectory of the packaged systemd unit (cross/bmfleet-agent.service, /var/lib/bmfleet).
 */
export const DEFAULT_AGENT_STATE_DIR = '/var/lib/bmfleet/agent';

export const AgentBrokerSchema = Type.Object(
  {
    url: Type.String({ pattern: BROKER_URL_PATTERN, default: 'mqtt://127.0.0.1:1883' }),
    /** Further nodes of a clustered broker, tried in turn when the connection is lost. */
    failoverUrls: Type.Optional(FailoverUrlsSchema),
    username: Type.Optional(Type.String()),
    password: Type.Optional(Type.String()),
    /** 5 by default; 4 for brokers that do not speak MQTT 5 (the embedded aedes broker). */
    protocolVersion: Type.Union([Type.Literal(4), Type.Literal(5)], { default: 5 }),
  },
  { additionalProperties: false, default: {} },
);

export const EnrolmentConfigSchema = Type.Object(
  {
    deviceId: DeviceIdSchema,
    chip: Type.Union(CHIPS.map((c) => Type.Literal(c))),
    broker: AgentBrokerSchema,
    /** Blob store, partial transfers, state file and outboxes live here. */
    stateDir: Type.String({ minLength: 1 }),
    /**
     * Pinned trust root file (a signed root envelope, as `bmfleet keys init` writes it); a
     * relative path is relative to the config file. Not read when `root` is given.
     */
    rootFile: Type.String({ minLength: 1, default: 'root.json' }),
    runtime: Type.Union([Type.Literal('auto'), Type.Literal('bmrt'), Type.Literal('sim')], {
      default: 'auto',
    }),
  },
  { additionalProperties: false },
);
export type EnrolmentConfig = Static<typeof EnrolmentConfigSchema>;

export interface EnrolmentInput {
  readonly device: { readonly id: string; readonly chip: string };
  /** The broker URLs devices reach (every node of a cluster), and the device's credentials. */
  readonly broker: {
    readonly url: string;
    readonly failoverUrls?: readonly string[];
    readonly password: string;
    readonly protocolVersion: 4 | 5;
  };
  readonly stateDir?: string;
}

/** The agent config of an enrolled device, with the schema's defaults, checked against it. */
export function enrolmentConfig(input: EnrolmentInput): EnrolmentConfig {
  const value = Value.Default(EnrolmentConfigSchema, {
    deviceId: input.device.id,
    chip: input.device.chip,
    broker: {
      url: input.broker.url,
      ...(input.broker.failoverUrls?.length
        ? { failoverUrls: [...input.broker.failoverUrls] }
        : {}),
      username: input.device.id,
      password: input.broker.password,
      protocolVersion: input.broker.protocolVersion,
    },
    stateDir: input.stateDir ?? DEFAULT_AGENT_STATE_DIR,
  });
  const error = Value.Errors(EnrolmentConfigSchema, value).First();
  if (error) {
    throw bmfError('BMF_ERR_CONFIG_INVALID', {
      field: error.path || '/',
      reason: error.message,
    });
  }
  return value as EnrolmentConfig;
}
