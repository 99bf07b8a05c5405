import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadAgentConfig } from '../../agent/config.js';

t.test('agent config: defaults, file < env < flags, typed errors, frozen', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bmf-agent-config-'));
  const file = join(dir, 'agent.json');
  await writeFile(
    file,
    JSON.stringify({ deviceId: 'cam-1', chip: 'bm1684x', stateDir: dir, rootFile: 'root.json' }),
  );
  const c = loadAgentConfig({
    file,
    env: { BMFLEET_AGENT_RUNTIME: 'sim' },
    flags: { 'api.port': '9000' },
  });
  t.equal(c.broker.url, 'mqtt://127.0.0.1:1883');
  t.equal(c.broker.protocolVersion, 5);
  t.equal(c.api.host, '127.0.0.1', 'local API on loopback by default');
  t.equal(c.api.port, 9000);
  t.equal(c.runtime, 'sim');
  t.equal(c.telemetry.intervalMs, 10_000);
  t.ok(Object.isFrozen(c.api));
  await writeFile(
    file,
    JSON.stringify({ deviceId: 'cam-1', chip: 'bm9', stateDir: dir, rootFile: 'r' }),
  );
  t.throws(() => loadAgentConfig({ file }), { code: 'BMF_ERR_CONFIG_INVALID', message: /chip/ });
  t.throws(() => loadAgentConfig({ file, flags: { chip: 'bm1688', runtime: 'gpu' } }), {
    code: 'BMF_ERR_CONFIG_INVALID',
    message: /runtime/,
  });
});
