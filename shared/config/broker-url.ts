// Broker URLs as configs spell them (controller.json, agent.json, the enrolment config), and the
// server list mqtt.js takes for failover. One pattern for every field that names a broker.
import { Type } from '@sinclair/typebox';

/** scheme://host[:port][/path]: the schemes mqtt.js connects with in Node. */
export const BROKER_URL_PATTERN =
  '^(mqtts?|wss?|tcp|tls)://(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9._-]+)(:[0-9]{1,5})?(/[^\\s]*)?$';

export const BrokerUrlSchema = Type.String({ pattern: BROKER_URL_PATTERN });

/**
 * Further nodes of a clustered broker, tried in turn after the first URL: a lost connection
 * goes to the next one (mqtt.js `servers`), so a client whose node died reaches a survivor.
 */
export const FailoverUrlsSchema = Type.Array(BrokerUrlSchema, { maxItems: 32 });

const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  mqtt: 1883,
  tcp: 1883,
  mqtts: 8883,
  tls: 8883,
  ws: 80,
  wss: 443,
};

export interface MqttServer {
  readonly host: string;
  readonly port: number;
  readonly protocol: 'mqtt' | 'mqtts' | 'tcp' | 'ws' | 'wss';
}

/** mqtt.js `servers` for `url` then `failover`, in that order; [] when there is no failover. */
export function mqttServers(url: string, failover: readonly string[] = []): MqttServer[] {
  if (failover.length === 0) return [];
  return [url, ...failover].map((u) => {
    const parsed = new URL(u);
    const scheme = parsed.protocol.replace(':', '');
    return {
      // URL keeps the brackets of an IPv6 literal; a socket address has none.
      host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(parsed.port || DEFAULT_PORTS[scheme] || 1883),
      // mqtt.js's TLS stream builder serves `tls` and `mqtts` alike.
      protocol: (scheme === 'tls' ? 'mqtts' : scheme) as MqttServer['protocol'],
    };
  });
}
