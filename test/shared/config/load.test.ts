import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { loadConfig } from '../../../shared/config/load.js';
import { isBmfError } from '../../../shared/errors.js';

const schema = Type.Object(
  {
    deviceId: Type.String({ minLength: 1 }),
    api: Type.Object(
      {
        listen: Type.String({ default: '127.0.0.1:8470' }),
        maxBodyBytes: Type.Integer({ minimum: 1, default: 1048576 }),
      },
      { default: {} },
    ),
    telemetry: Type.Object(
      { intervalMs: Type.Integer({ minimum: 100, default: 10000 }) },
      { default: {} },
    ),
    verbose: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

const dir = mkdtempSync(join(tmpdir(), 'bmf-config-'));
const file = join(dir, 'agent.json');
writeFileSync(file, JSON.stringify({ deviceId: 'se7-01', api: { listen: '0.0.0.0:1' } }));

t.test('file < env < flags, defaults filled, result frozen', async (t) => {
  const cfg = loadConfig(schema, {
    file,
    env: { BMFLEET_API_LISTEN: '127.0.0.1:2', BMFLEET_TELEMETRY_INTERVAL_MS: '500' },
    envPrefix: 'BMFLEET',
    flags: { 'api.listen': '127.0.0.1:3', verbose: 'true' },
  });
  t.equal(cfg.deviceId, 'se7-01');
  t.equal(cfg.api.listen, '127.0.0.1:3');
  t.equal(cfg.api.maxBodyBytes, 1048576);
  t.equal(cfg.telemetry.intervalMs, 500);
  t.equal(cfg.verbose, true);
  t.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.api));
});

const bad: Array<[string, Parameters<typeof loadConfig>[1], string]> = [
  ['missing required field', { flags: {} }, 'deviceId'],
  [
    'env not a number',
    { file, env: { BMFLEET_TELEMETRY_INTERVAL_MS: 'soon' }, envPrefix: 'BMFLEET' },
    'BMFLEET_TELEMETRY_INTERVAL_MS',
  ],
  ['below minimum', { file, flags: { 'telemetry.intervalMs': '5' } }, 'telemetry.intervalMs'],
  ['unknown field', { flags: { deviceId: 'x', colour: 'red' } }, 'colour'],
];
for (const [name, opts, field] of bad) {
  t.test(`bad config names the field: ${name}`, async (t) => {
    try {
      loadConfig(schema, opts);
      t.fail('expected an error');
    } catch (e) {
      t.ok(isBmfError(e, 'BMF_ERR_CONFIG_INVALID'), String(e));
      t.match((e as Error).message, field);
    }
  });
}

t.test('unreadable file is a typed error', async (t) => {
  t.throws(() => loadConfig(schema, { file: join(dir, 'nope.json') }), {
    code: 'BMF_ERR_CONFIG_UNREADABLE',
  });
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{ not json');
  t.throws(() => loadConfig(schema, { file: broken }), { code: 'BMF_ERR_CONFIG_UNREADABLE' });
});
