// Broker URL lists in the controller and agent configs (test/fixtures/config/broker-urls.json):
// what each program accepts and hands its links, what it refuses and the field it names, and the
// server list mqtt.js gets for failover.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { loadAgentConfig } from '../../../agent/config.js';
import { brokerPlan, loadControllerConfig } from '../../../controller/config.js';
import { mqttServers } from '../../../shared/config/broker-url.js';

interface Case {
  readonly name: string;
  readonly program: 'controller' | 'agent';
  readonly broker: Record<string, unknown>;
  readonly env?: Record<string, string>;
  readonly ok?: { readonly url: string; readonly failoverUrls?: readonly string[] };
  readonly refused?: string;
}
interface ServersCase {
  readonly name: string;
  readonly url: string;
  readonly failoverUrls: readonly string[];
  readonly servers: readonly unknown[];
}
const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/config/broker-urls.json', import.meta.url), 'utf8'),
) as { cases: Case[]; servers: ServersCase[] };

/** What the program's links are handed: the first URL and the failover list. */
function load(c: Case): { url: string; failoverUrls?: readonly string[] } {
  const env = c.env ?? {};
  if (c.program === 'controller') {
    const config = loadControllerConfig({ flags: { broker: c.broker }, env });
    const plan = brokerPlan(config);
    if (plan.kind !== 'external') throw new Error('expected an external broker');
    return { url: plan.options.url, failoverUrls: plan.options.failoverUrls };
  }
  const config = loadAgentConfig({
    flags: { deviceId: 'cam-1', chip: 'bm1684x', stateDir: '/tmp/x', broker: c.broker },
    env,
  });
  return {
    url: config.broker.url,
    ...(config.broker.failoverUrls ? { failoverUrls: config.broker.failoverUrls } : {}),
  };
}

for (const c of fixture.cases) {
  t.test(c.name, async (t) => {
    if (c.ok) {
      t.same(load(c), c.ok);
      return;
    }
    t.throws(() => load(c), {
      code: 'BMF_ERR_CONFIG_INVALID',
      details: { field: c.refused },
    });
  });
}

for (const c of fixture.servers) {
  t.test(`servers: ${c.name}`, async (t) => {
    t.same(mqttServers(c.url, c.failoverUrls), c.servers);
  });
}
