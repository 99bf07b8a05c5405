// A device's order of its state reports (shared/wire/state-order.ts), as the agent and the
// simulated devices number them.
import t from 'tap';
import { createStateOrder } from '../../../shared/wire/state-order.js';

t.test(
  'state reports count up from 1 within one start; each start has its own boot id',
  async (t) => {
    const first = createStateOrder();
    const a = [first(), first(), first()];
    t.same(
      a.map((o) => o.stateSeq),
      [1, 2, 3],
    );
    t.equal(new Set(a.map((o) => o.bootId)).size, 1, 'one boot id per start');
    t.match(a[0]!.bootId, /^[0-9a-f]{16}$/);
    const second = createStateOrder();
    t.not(second().bootId, a[0]!.bootId, 'a new start, a new boot id');
  },
);
