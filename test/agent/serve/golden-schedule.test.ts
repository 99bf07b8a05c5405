import t from 'tap';
import { createSystemClock } from '../../../agent/clock.js';
import { createSimSessionPool } from '../../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../../agent/runtime/sim.js';
import type { GateRecord } from '../../../agent/serve/observe.js';
import { createInferenceService } from '../../../agent/serve/service.js';
import { goldenInputs, tinySpec } from '../../../harness/agent/models.js';

t.test('a scheduled golden run scores every serving variant and keeps serving', async (t) => {
  const gates: GateRecord[] = [];
  const service = createInferenceService({
    runtime: createSimBackend({
      pool: createSimSessionPool(),
      clock: createSystemClock(),
      timing: 'host',
    }),
    clock: createSystemClock(),
    observers: [{ onGate: (g) => gates.push(g) }],
  });
  t.teardown(() => service.close());
  t.equal(await service.variants.goldenRun(), 0, 'nothing serving, nothing to run');
  await service.variants.install('A', tinySpec('tiny-a'));
  await service.variants.install('B', tinySpec('tiny-b'));
  gates.length = 0;
  t.equal(await service.variants.goldenRun(), 2, 'both variants scored');
  t.same(gates.map((g) => [g.variant, g.passed, g.samples]).sort(), [
    ['A', true, goldenInputs().inputs.length],
    ['B', true, goldenInputs().inputs.length],
  ]);
  t.ok(
    gates.every((g) => g.accuracy !== undefined && g.accuracy >= 0.9),
    'accuracies reported',
  );
  const r = await service.infer({ kind: 'tensor', feeds: goldenInputs().inputs[0] ?? {} });
  t.ok(r.requestId, 'still serving after the golden run');
});
