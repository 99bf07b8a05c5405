// The enrolment agent-config: what the controller fills is exactly what agent/config.ts loads
// (one schema, extended), with the schema's defaults and a typed error for a bad device.
import t from 'tap';
import { AgentConfigSchema } from '../../../agent/config.js';
import {
  DEFAULT_AGENT_STATE_DIR,
  EnrolmentConfigSchema,
  enrolmentConfig,
} from '../../../shared/config/enrolment.js';
import { validateConfig } from '../../../shared/config/load.js';

const broker = { url: 'mqtt://10.0.0.2:1883', password: 's3cret', protocolVersion: 4 as const };

t.test('the agent config extends the enrolment schema field by field', async (t) => {
  for (const [key, schema] of Object.entries(EnrolmentConfigSchema.properties))
    t.same(
      AgentConfigSchema.properties[key as keyof typeof AgentConfigSchema.properties],
      schema,
      key,
    );
});

t.test('an enrolled device config loads as the agent config, unchanged', async (t) => {
  const enrolled = enrolmentConfig({ device: { id: 'cam-7', chip: 'bm1684x' }, broker });
  t.same(enrolled, {
    deviceId: 'cam-7',
    chip: 'bm1684x',
    broker: { url: broker.url, username: 'cam-7', password: 's3cret', protocolVersion: 4 },
    stateDir: DEFAULT_AGENT_STATE_DIR,
    rootFile: 'root.json',
    runtime: 'auto',
  });
  const loaded = validateConfig(AgentConfigSchema, enrolled);
  t.match(loaded, enrolled, 'every enrolled field kept');
  t.equal(loaded.api.port, 8470, "the agent's own settings get their defaults");
  const elsewhere = enrolmentConfig({
    device: { id: 'cam-8', chip: 'bm1688' },
    broker,
    stateDir: '/data/bmfleet',
  });
  t.equal(elsewhere.stateDir, '/data/bmfleet');
});

t.test('a device the agent could not load is refused with a typed error', async (t) => {
  t.throws(() => enrolmentConfig({ device: { id: 'cam-1', chip: 'bm9' }, broker }), {
    code: 'BMF_ERR_CONFIG_INVALID',
    details: { field: '/chip' },
  });
  t.throws(() => enrolmentConfig({ device: { id: 'a/b', chip: 'bm1684x' }, broker }), {
    code: 'BMF_ERR_CONFIG_INVALID',
    details: { field: '/deviceId' },
  });
});

t.test('a device enrolled against a cluster learns every node', async (t) => {
  const nodes = ['mqtt://10.0.0.3:1883', 'mqtt://10.0.0.4:1883'];
  const enrolled = enrolmentConfig({
    device: { id: 'cam-9', chip: 'bm1684x' },
    broker: { ...broker, failoverUrls: nodes },
  });
  t.same(enrolled.broker.failoverUrls, nodes);
  t.same(
    validateConfig(AgentConfigSchema, enrolled).broker.failoverUrls,
    nodes,
    'the agent loads them',
  );
  const single = enrolmentConfig({ device: { id: 'cam-9', chip: 'bm1684x' }, broker });
  t.notOk('failoverUrls' in single.broker, 'one broker: no list written');
  t.throws(
    () =>
      enrolmentConfig({
        device: { id: 'cam-9', chip: 'bm1684x' },
        broker: { ...broker, failoverUrls: ['10.0.0.3'] },
      }),
    { code: 'BMF_ERR_CONFIG_INVALID', details: { field: '/broker/failoverUrls/0' } },
  );
});
