import t from 'tap';
import { createManualClock, createSystemClock } from '../../../agent/clock.js';
import { createSimSessionPool } from '../../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../../agent/runtime/sim.js';
import type { ServeObserver, ShadowRecord } from '../../../agent/serve/observe.js';
import { createInferenceService } from '../../../agent/serve/service.js';
import type { ServeEvent } from '../../../agent/serve/types.js';
import { drive } from '../helpers/drive.js';
import { goldenInputs, tinyBundleDigest, tinySpec } from '../../../harness/agent/models.js';
import { LATENCY_STAGES } from '../../../shared/wire/messages.js';

const golden = goldenInputs();
const input = (i = 0) => ({ kind: 'tensor' as const, feeds: golden.inputs[i] ?? {} });

function recorder(): ServeObserver & { events: ServeEvent[]; shadows: ShadowRecord[] } {
  const events: ServeEvent[] = [];
  const shadows: ShadowRecord[] = [];
  return { events, shadows, onEvent: (e) => events.push(e), onShadow: (s) => shadows.push(s) };
}

function hostService(observer = recorder()) {
  const pool = createSimSessionPool();
  const runtime = createSimBackend({ pool, clock: createSystemClock(), timing: 'host' });
  const service = createInferenceService({
    runtime,
    clock: createSystemClock(),
    observers: [observer],
  });
  return { pool, service, observer };
}

t.test('serves, labels top-k, reports stage timings and the model that answered', async (t) => {
  const { service } = hostService();
  t.equal(service.ready(), false);
  await t.rejects(service.infer(input()), { code: 'BMF_ERR_AGENT_NOT_READY' });
  await service.variants.install('A', tinySpec('tiny-a'));
  t.equal(service.ready(), true);
  const r = await service.infer(input(0));
  t.equal(r.variant, 'A');
  t.equal(r.bundleDigest, tinyBundleDigest('tiny-a'));
  t.equal(r.topK[0]?.index, golden.labels[0]);
  t.equal(r.topK[0]?.label, ['zero', 'one', 'two', 'three'][golden.labels[0] ?? 0]);
  t.ok(r.timings.e2eMs >= r.timings.inferMs, 'stage timings add up');
  // One field per telemetry stage, e2eMs the sum of the others (floating point: 1e-9 ms).
  t.same(Object.keys(r.timings).sort(), LATENCY_STAGES.map((s) => `${s}Ms`).sort());
  const { preprocessMs, inferMs, postprocessMs } = r.timings;
  t.ok(Math.abs(r.timings.e2eMs - (preprocessMs + inferMs + postprocessMs)) < 1e-9, 'e2e = sum');
  t.same(
    service.models().map((m) => [m.variant, m.bundleDigest, m.lastKnownGood]),
    [['A', tinyBundleDigest('tiny-a'), tinyBundleDigest('tiny-a')]],
  );
  await service.close();
});

t.test('bad tensor is a typed 4xx and the active model keeps serving', async (t) => {
  const { service } = hostService();
  await service.variants.install('A', tinySpec('tiny-a'));
  const bad = {
    kind: 'tensor' as const,
    feeds: { input: { dtype: 'float32' as const, shape: [1, 2], data: new Float32Array(2) } },
  };
  await t.rejects(service.infer(bad), { code: 'BMF_ERR_TENSOR_SHAPE', status: 400 });
  await t.rejects(service.infer({ kind: 'image', bytes: new Uint8Array(3) }), {
    code: 'BMF_ERR_INFER_REQUEST',
  }); // no preprocess spec in this bundle
  t.equal((await service.infer(input(1))).topK[0]?.index, golden.labels[1]);
  await service.close();
});

t.test('failed gate keeps the old model, reports why and frees the candidate', async (t) => {
  const { service, observer, pool } = hostService();
  await service.variants.install('A', tinySpec('tiny-a'));
  const bad = tinySpec('tiny-bad');
  await t.rejects(service.variants.install('A', bad), { code: 'BMF_ERR_AGENT_GATE_FAILED' });
  t.equal((await service.infer(input())).bundleDigest, tinyBundleDigest('tiny-a'));
  const failed = observer.events.find((e) => e.kind === 'gate-failed');
  t.match(failed, {
    kind: 'gate-failed',
    bundleDigest: tinyBundleDigest('tiny-bad'),
    reason: /golden accuracy/,
  });
  t.equal(pool.snapshot().has(bad.bmodelDigest), false, 'candidate unloaded');
  await service.close();
});

t.test('hot swap: in-flight requests finish on the old model, then it is unloaded', async (t) => {
  const clock = createManualClock();
  const pool = createSimSessionPool();
  const runtime = createSimBackend({ pool, clock, timing: 'modeled' });
  const service = createInferenceService({ runtime, clock });
  const a = tinySpec('tiny-a', { modeledLatencyMs: 40 });
  await drive(clock, service.variants.install('A', a, { knownGood: true }));
  const inflight = service.infer(input(2)); // sleeps 40 ms of device time on A
  await new Promise((r) => setImmediate(r));
  const b = tinySpec('tiny-b'); // host timing: no device wait
  let swapped = false;
  const swap = service.variants.install('A', b).then((r) => {
    swapped = true;
    return r;
  });
  while (service.variants.slot('A')?.current()?.spec.bundleDigest !== tinyBundleDigest('tiny-b')) {
    await new Promise((r) => setImmediate(r));
  }
  t.equal(swapped, false, 'swap waits for the old model to drain');
  t.equal(pool.snapshot().get(a.bmodelDigest), 1, 'old model still loaded while a request uses it');
  t.equal(
    (await service.infer(input(3))).bundleDigest,
    tinyBundleDigest('tiny-b'),
    'new requests see the new model',
  );
  const old = await drive(clock, inflight);
  t.equal(
    old.bundleDigest,
    tinyBundleDigest('tiny-a'),
    'in-flight request answered by the model it started on',
  );
  t.equal(old.timing, 'modeled');
  const result = await swap;
  t.equal(result.previous?.spec.bundleDigest, tinyBundleDigest('tiny-a'));
  t.equal(pool.snapshot().has(a.bmodelDigest), false, 'old model unloaded after drain');
  const again = await service.variants.install('A', b);
  t.equal(again.changed, false, 'installing the active bundle again is a no-op');
  await service.close();
});

t.test(
  'health window: a p95 regression is reported, never rolled back by the variant set; the rollback step announces after the swap; a clean window promotes',
  async (t) => {
    const clock = createManualClock();
    const observer = recorder();
    const runtime = createSimBackend({ pool: createSimSessionPool(), clock, timing: 'modeled' });
    const service = createInferenceService({ runtime, clock, observers: [observer] });
    const health = { windowMs: 60_000, minRequests: 5, maxErrorRate: 0.1, maxP95Ms: 20 };
    await service.variants.install('A', tinySpec('tiny-a'), { knownGood: true });
    const slow = tinySpec('tiny-b', { modeledLatencyMs: 50 });
    await drive(clock, service.variants.install('A', slow, { health }));
    for (let i = 0; i < 5; i++) await drive(clock, service.infer(input(i)));
    await drive(clock, service.settle());
    t.match(
      observer.events.find((e) => e.kind === 'regressed'),
      { variant: 'A', bundleDigest: tinyBundleDigest('tiny-b'), reason: /p95 latency 50/ },
    );
    t.same([...service.variants.regressed()], ['A'], 'the verdict is a fact for the planner');
    t.notOk(
      observer.events.some((e) => e.kind === 'rolled-back'),
      'no rollback announced before one happens',
    );
    t.equal(
      (await drive(clock, service.infer(input()))).bundleDigest,
      tinyBundleDigest('tiny-b'),
      'the variant set does not roll back by itself',
    );
    const lkg = service.variants.lastKnownGood('A');
    if (!lkg) throw new Error('no last-known-good');
    const before = observer.events.length;
    await drive(clock, service.variants.rollbackTo('A', lkg));
    t.match(observer.events.slice(before), [
      {
        kind: 'rolled-back',
        from: tinyBundleDigest('tiny-b'),
        to: tinyBundleDigest('tiny-a'),
        reason: /p95 latency 50/,
      },
      { kind: 'activated', bundleDigest: tinyBundleDigest('tiny-a') },
    ]);
    t.equal(
      (await service.infer(input())).bundleDigest,
      tinyBundleDigest('tiny-a'),
      'serving last-known-good',
    );
    t.same([...service.variants.regressed()], [], 'no longer serving the regressed bundle');

    const fast = tinySpec('tiny-b', { bundleDigest: tinyBundleDigest('tiny-b2') });
    await service.variants.install('A', fast, { health });
    t.equal(
      service.variants.lastKnownGood('A')?.bundleDigest,
      tinyBundleDigest('tiny-a'),
      'not yet known good',
    );
    await clock.advance(60_000);
    await service.settle();
    t.ok(
      observer.events.some(
        (e) => e.kind === 'healthy' && e.bundleDigest === tinyBundleDigest('tiny-b2'),
      ),
    );
    t.equal(service.variants.lastKnownGood('A')?.bundleDigest, tinyBundleDigest('tiny-b2'));
    await service.close();
  },
);

t.test(
  'A/B: sticky split keeps a key on one variant; shadow compares B and never returns it',
  async (t) => {
    const { service, observer } = hostService();
    await service.variants.install('A', tinySpec('tiny-a'));
    await service.variants.install('B', tinySpec('tiny-b'));
    service.setTraffic({ mode: 'sticky', weightB: 0.5, shadowRate: 0 });
    const seen = new Map<string, Set<string>>();
    for (let i = 0; i < 64; i++) {
      const key = `camera-${i % 32}`;
      const r = await service.infer(input(i % 16), { requestKey: key });
      seen.set(key, (seen.get(key) ?? new Set()).add(r.variant));
    }
    t.ok(
      [...seen.values()].every((s) => s.size === 1),
      'each key always on one variant',
    );
    const variantsSeen = new Set([...seen.values()].flatMap((s) => [...s]));
    t.same([...variantsSeen].sort(), ['A', 'B'], 'both variants receive keys');

    service.setTraffic({ mode: 'weighted', weightB: 0, shadowRate: 1 });
    for (let i = 0; i < 16; i++) t.equal((await service.infer(input(i))).variant, 'A');
    await service.settle();
    t.equal(observer.shadows.length, 16, 'every A request shadowed on B');
    t.ok(observer.shadows.every((s) => s.primary === 'A' && s.shadow === 'B'));
    const agree = observer.shadows.filter((s) => s.top1Agree).length;
    t.ok(agree >= 15, `tiny-b agrees with tiny-a on top-1 (${agree}/16)`);
    t.ok(
      observer.shadows.every((s) => (s.cosine ?? 0) > 0.99),
      'outputs nearly identical',
    );
    await service.close();
  },
);

t.test('feedback counts correct/incorrect; unknown request id is a typed 404', async (t) => {
  const verdicts: boolean[] = [];
  const { service } = hostService();
  const svc = createInferenceService({
    runtime: createSimBackend({
      pool: createSimSessionPool(),
      clock: createSystemClock(),
      timing: 'host',
    }),
    clock: createSystemClock(),
    observers: [{ onFeedback: (f) => verdicts.push(f.correct) }],
  });
  await svc.variants.install('A', tinySpec('tiny-a'));
  const r = await svc.infer(input(0));
  const label = golden.labels[0] ?? 0;
  t.same(svc.feedback(r.requestId, label), { correct: true });
  const r2 = await svc.infer(input(0));
  t.same(svc.feedback(r2.requestId, ['zero', 'one', 'two', 'three'][(label + 1) % 4] ?? ''), {
    correct: false,
  });
  t.same(verdicts, [true, false]);
  t.throws(() => svc.feedback('nope', 1), {
    code: 'BMF_ERR_FEEDBACK_UNKNOWN_REQUEST',
    status: 404,
  });
  await svc.close();
  await service.close();
});
