// A bundle or assignment the agent's pinned root refuses is reported with the keys expected and
// seen (checkThreshold), the root the agent read (rootFile or the embedded root) and a hint; a
// state directory it cannot create is BMF_ERR_IO with a hint, not an internal error.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { rootSource, withTrustContext } from '../../agent/trust-root.js';
import { checkThreshold } from '../../shared/trust/envelope.js';
import { bmfError, isBmfError, type BmfError } from '../../shared/errors.js';

function refusal(): BmfError {
  const envelope = { signed: { x: 1 }, signatures: [{ keyid: 'ab'.repeat(32), sig: '00' }] };
  const { publicKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  try {
    checkThreshold(
      envelope,
      { ['cd'.repeat(32)]: { public: pub } },
      { keyids: ['cd'.repeat(32)], threshold: 1 },
      'bundle',
    );
  } catch (e) {
    if (isBmfError(e)) return e;
  }
  throw new Error('checkThreshold accepted a signature by an unknown key');
}

t.test('unknown signer: expected and seen keys, the root file, a hint', async (t) => {
  const e = withTrustContext(refusal(), rootSource({ rootFile: '/etc/bmfleet/root.json' }));
  t.equal(e.code, 'BMF_ERR_TRUST_UNKNOWN_KEY');
  t.match(e.message, `signature by key ${'ab'.repeat(32)} is not trusted for role bundle`);
  t.match(e.message, `the root trusts ${'cd'.repeat(32)}`);
  t.match(e.message, '(looked in /etc/bmfleet/root.json)');
  t.match(e.message, /hint: .*device add --out/);
});

t.test('embedded root is named as such; other errors pass unchanged', async (t) => {
  const e = withTrustContext(refusal(), rootSource({ rootFile: 'root.json', root: {} }));
  t.match(e.message, '(looked in the root field of the agent config)');
  const other = bmfError('BMF_ERR_TRUST_EXPIRED', { what: 'bundle', expires: 'then' });
  t.equal(withTrustContext(other, 'x'), other);
});

t.test('a state directory the agent cannot create is a typed error with a hint', async (t) => {
  const { writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { createAgent } = await import('../../agent/agent.js');
  const { agentConfig } = await import('../../harness/agent/agent-env.js');
  const { testKeys } = await import('../../harness/agent/trust.js');
  const dir = t.testdir();
  await writeFile(join(dir, 'a-file'), 'x');
  const config = await agentConfig(testKeys(), 'mqtt://127.0.0.1:9', 'cam-1', {
    stateDir: join(dir, 'a-file', 'state'),
    api: { enabled: false },
  });
  const agent = createAgent(config);
  await t.rejects(agent.start(), {
    code: 'BMF_ERR_IO',
    message: /a-file\/state: .*hint: give a state directory this user can write: --state-dir/,
  });
  await agent.stop().catch(() => undefined);
});
