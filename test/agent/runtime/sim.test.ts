import t from 'tap';
import { createManualClock, createSystemClock } from '../../../agent/clock.js';
import { createSimSessionPool } from '../../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../../agent/runtime/sim.js';
import { refuseSimulatorBmodel } from '../../../agent/runtime/sim-bmodel.js';
import { selectRuntime } from '../../../agent/runtime/select.js';
import { readBmodel } from '../../../shared/bmodel/read.js';
import { writeBmodel } from '../../../shared/bmodel/write.js';
import { isBmfError } from '../../../shared/errors.js';
import { goldenInputs, sha256, tinyBmodel } from '../../../harness/agent/models.js';

const golden = goldenInputs();

t.test('sim backend describes the net and classifies the golden set', async (t) => {
  const pool = createSimSessionPool();
  const backend = createSimBackend({ pool, clock: createSystemClock(), timing: 'host' });
  const bytes = tinyBmodel('tiny-a');
  const h = await backend.load(bytes, { digest: sha256(bytes) });
  t.same(
    backend.describe(h).inputs.map((i) => [i.name, i.dtype, i.shape]),
    [['input', 'float32', [1, 3, 8, 8]]],
  );
  t.equal(backend.describe(h).chip, 'BM1684X');
  let correct = 0;
  for (const [i, feeds] of golden.inputs.entries()) {
    const r = await backend.infer(h, feeds);
    t.equal(r.timing, 'host');
    const logits = r.outputs.logits;
    t.ok(logits, 'has the declared output');
    const data = logits?.data as Float32Array;
    const top = data.indexOf(Math.max(...data));
    if (top === golden.labels[i]) correct++;
  }
  t.equal(correct, golden.labels.length, 'tiny-a reproduces its own golden labels');
  await backend.unload(h);
  await backend.unload(h); // idempotent
  t.equal(pool.snapshot().size, 0, 'last release frees the session');
});

t.test('infer leaves the feeds alone unless told to consume them', async (t) => {
  const backend = createSimBackend({
    pool: createSimSessionPool(),
    clock: createSystemClock(),
    timing: 'host',
  });
  const bytes = tinyBmodel('tiny-a');
  const h = await backend.load(bytes, { digest: sha256(bytes) });
  const input = golden.inputs[0]?.input;
  if (!input) throw new Error('golden set is empty');
  const kept = { input: { ...input, data: input.data.slice() } };
  const a = await backend.infer(h, kept);
  t.same([...kept.input.data], [...input.data], 'default: the caller keeps its tensor');
  const handed = { input: { ...input, data: input.data.slice() } };
  const b = await backend.infer(h, handed, undefined, { consumeInputs: true });
  t.equal(handed.input.data.byteLength, 0, 'consumed: moved to the inference thread');
  t.same(b.outputs, a.outputs, 'same result');
  await backend.unload(h);
});

t.test('wrong input shape is a typed tensor error', async (t) => {
  const backend = createSimBackend({
    pool: createSimSessionPool(),
    clock: createSystemClock(),
    timing: 'host',
  });
  const bytes = tinyBmodel('tiny-a');
  const h = await backend.load(bytes, { digest: sha256(bytes) });
  await t.rejects(
    backend.infer(h, {
      input: { dtype: 'float32', shape: [1, 3, 4, 4], data: new Float32Array(48) },
    }),
    { code: 'BMF_ERR_TENSOR_SHAPE' },
  );
  await t.rejects(backend.infer(h, {}), { code: 'BMF_ERR_TENSOR_SHAPE' });
  await backend.unload(h);
});

t.test('sessions are shared by digest between agents, reference counted', async (t) => {
  const pool = createSimSessionPool();
  const clock = createSystemClock();
  const agent1 = createSimBackend({ pool, clock, timing: 'host' });
  const agent2 = createSimBackend({ pool, clock, timing: 'host' });
  const bytes = tinyBmodel('tiny-a');
  const digest = sha256(bytes);
  const [h1, h2] = await Promise.all([
    agent1.load(bytes, { digest }),
    agent2.load(bytes, { digest }),
  ]);
  t.equal(pool.snapshot().get(digest), 2);
  await agent1.unload(h1);
  t.equal(pool.snapshot().get(digest), 1);
  const r = await agent2.infer(h2, golden.inputs[0] ?? {});
  t.ok(r.outputs.logits, 'the other agent still runs after one released');
  await agent2.unload(h2);
  t.equal(pool.snapshot().has(digest), false);
});

t.test('modeled timing waits until the modeled device latency has passed', async (t) => {
  const clock = createManualClock();
  const backend = createSimBackend({ pool: createSimSessionPool(), clock, timing: 'modeled' });
  const bytes = tinyBmodel('tiny-a');
  const h = await backend.load(bytes, { digest: sha256(bytes), modeledLatencyMs: 25 });
  let done = false;
  const p = backend.infer(h, golden.inputs[0] ?? {}).then((r) => {
    done = true;
    return r;
  });
  while (clock.pendingSleeps() === 0) await new Promise((r) => setImmediate(r));
  t.equal(done, false, 'not returned before the modeled latency');
  await clock.advance(25);
  const r = await p;
  t.equal(r.timing, 'modeled');
  t.equal(r.inferMs, 25);
  // A host slower than the modeled board still reports the board's latency, and its own apart.
  const fast = await backend.load(bytes, { digest: sha256(bytes), modeledLatencyMs: 0.001 });
  const slowHost = backend.infer(fast, golden.inputs[0] ?? {});
  await clock.advance(3);
  const r2 = await slowHost;
  t.equal(r2.inferMs, 0.001, 'modeled device latency reported');
  t.ok(r2.hostMs >= 0, 'host time kept separately');
  // Without a modeled latency in the bundle the figure stays the host's and says so.
  const h2 = await backend.load(bytes, { digest: sha256(bytes) });
  t.equal((await backend.infer(h2, golden.inputs[0] ?? {})).timing, 'host');
});

t.test(
  'BMODEL without a simulator payload is refused by sim; sim BMODEL refused by device',
  async (t) => {
    const backend = createSimBackend({
      pool: createSimSessionPool(),
      clock: createSystemClock(),
      timing: 'host',
    });
    const device = writeBmodel({
      chip: 'BM1684X',
      nets: [{ name: 'n', stages: [{ inputs: [], outputs: [] }] }],
    });
    await t.rejects(backend.load(device, { digest: sha256(device) }), {
      code: 'BMF_ERR_RUNTIME_LOAD',
    });
    const garbage = await backend
      .load(new Uint8Array(10), { digest: 'x' })
      .catch((e: unknown) => e);
    t.ok(isBmfError(garbage) && garbage.code.startsWith('BMF_ERR_BMODEL_'), 'typed BMODEL error');
    t.throws(() => refuseSimulatorBmodel(readBmodel(tinyBmodel('tiny-a'))), {
      code: 'BMF_ERR_RUNTIME_SIM_ONLY',
    });
    t.doesNotThrow(() => refuseSimulatorBmodel(readBmodel(device)));
  },
);

t.test(
  'selectRuntime: auto falls back to sim and says why; bmrt without libsophon fails',
  async (t) => {
    const base = {
      pool: createSimSessionPool(),
      clock: createSystemClock(),
      timing: 'host' as const,
    };
    const absent = { ...base, fileExists: () => false };
    const auto = selectRuntime('auto', absent);
    t.equal(auto.chosen, 'sim');
    t.match(auto.reason, /no libsophon/);
    t.throws(() => selectRuntime('bmrt', absent), { code: 'BMF_ERR_RUNTIME_UNAVAILABLE' });
    const present = { ...base, fileExists: () => true };
    t.match(selectRuntime('auto', present).reason, /no bmrt backend/);
    t.equal(selectRuntime('sim', present).chosen, 'sim');
    t.throws(() => selectRuntime('bmrt', present), { code: 'BMF_ERR_RUNTIME_UNAVAILABLE' });
  },
);
