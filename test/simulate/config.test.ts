// The agent config of a simulated device: enrolment's identity and broker credentials kept, the
// parts a simulated board differs in set, and the result validated like any agent config.
import t from 'tap';
import { join } from 'node:path';
import { simulatedAgentConfig } from '../../simulate/config.js';

// What POST /v1/devices answers for a device (controller/main.ts agentConfig).
const enrolled = {
  id: 'sim-00001',
  agentConfig: {
    deviceId: 'sim-00001',
    chip: 'bm1684x',
    broker: {
      url: 'mqtt://127.0.0.1:1883',
      username: 'sim-00001',
      password: 'secret',
      protocolVersion: 4,
    },
    stateDir: '/var/lib/bmfleet/agent',
    rootFile: 'root.json',
    runtime: 'auto',
    telemetry: { outboxLimit: 50 },
  },
  trustRoot: {},
};

t.test('own state dir, pinned root in it, simulator runtime, no local API', async (t) => {
  const c = simulatedAgentConfig(enrolled, { stateRoot: '/tmp/fleet', timing: 'modeled' });
  t.equal(c.stateDir, join('/tmp/fleet', 'sim-00001'));
  t.equal(c.rootFile, join('/tmp/fleet', 'sim-00001', 'root.json'));
  t.equal(c.runtime, 'sim');
  t.equal(c.timing, 'modeled');
  t.equal(c.api.enabled, false);
  t.same(c.broker, enrolled.agentConfig.broker, 'enrolment credentials kept');
  t.equal(c.telemetry.outboxLimit, 50);
  t.ok(Object.isFrozen(c), 'frozen like every validated config');
});

t.test('telemetry interval set, the rest of telemetry kept', async (t) => {
  const c = simulatedAgentConfig(enrolled, {
    stateRoot: '/tmp/fleet',
    timing: 'host',
    telemetryIntervalMs: 500,
  });
  t.equal(c.timing, 'host');
  t.equal(c.telemetry.intervalMs, 500);
  t.equal(c.telemetry.outboxLimit, 50);
});

t.test('a bad enrolment answer is a typed config error', async (t) => {
  t.throws(
    () =>
      simulatedAgentConfig(
        { ...enrolled, agentConfig: { ...enrolled.agentConfig, chip: 'bm9999' } },
        { stateRoot: '/tmp/fleet', timing: 'modeled' },
      ),
    { code: 'BMF_ERR_CONFIG_INVALID' },
  );
  t.throws(
    () =>
      simulatedAgentConfig(enrolled, {
        stateRoot: '/tmp/fleet',
        timing: 'modeled',
        telemetryIntervalMs: 10,
      }),
    { code: 'BMF_ERR_CONFIG_INVALID' },
  );
});
