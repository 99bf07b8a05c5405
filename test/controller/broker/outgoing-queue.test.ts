// The indexed QoS 1/2 queues keep aedes-persistence's semantics (see outgoing-queue.ts).
import t from 'tap';
import {
  createOutgoingQueues,
  type QueuedPacket,
} from '../../../controller/broker/outgoing-queue.js';

interface P extends QueuedPacket {
  topic: string;
}
const copy = (p: P): P => ({ ...p, messageId: undefined });
const pub = (counter: number, topic = `t${counter}`): P => ({
  brokerId: 'b1',
  brokerCounter: counter,
  topic,
});

t.test('enqueue copies, update assigns ids, clear removes by id, order is kept', async (t) => {
  const q = createOutgoingQueues<P>(copy);
  const first = pub(1);
  q.enqueue('c', first);
  q.enqueue('c', pub(2));
  q.enqueue('c', pub(3));
  q.enqueue('other', pub(1));
  t.not(q.snapshot('c')[0], first, 'a copy is stored');
  q.update('c', { ...pub(2), messageId: 7 });
  q.update('c', { ...pub(1), messageId: 8 });
  t.same(
    q.snapshot('c').map((p) => [p.topic, p.messageId]),
    [
      ['t1', 8],
      ['t2', 7],
      ['t3', undefined],
    ],
  );
  t.equal(q.clear('c', 7)?.topic, 't2');
  t.equal(q.clear('c', 7), undefined, 'cleared once');
  t.equal(q.clear('nobody', 8), undefined);
  t.same(
    q.snapshot('c').map((p) => p.topic),
    ['t1', 't3'],
  );
  t.equal(q.size('other'), 1, 'queues are per client');
});

t.test('a resend with a new message id drops the old id', async (t) => {
  const q = createOutgoingQueues<P>(copy);
  q.enqueue('c', pub(1));
  q.update('c', { ...pub(1), messageId: 5 });
  q.update('c', { ...pub(1), messageId: 6 });
  t.equal(q.clear('c', 5), undefined, 'the old id no longer names the packet');
  t.equal(q.clear('c', 6)?.topic, 't1');
});

t.test('a PUBREL takes its PUBLISH place by message id; unknown packets fail', async (t) => {
  const q = createOutgoingQueues<P>(copy);
  q.enqueue('c', pub(1));
  q.enqueue('c', pub(2));
  q.update('c', { ...pub(1), messageId: 9 });
  // Same broker, another counter, same id: not this packet (aedes keeps searching, then fails).
  t.throws(() => q.update('c', { brokerId: 'b1', brokerCounter: 5, topic: 'x', messageId: 9 }), {
    message: 'no such packet',
  });
  const pubrel: P = { topic: 'pubrel', messageId: 9 };
  q.update('c', pubrel);
  t.same(
    q.snapshot('c').map((p) => p.topic),
    ['pubrel', 't2'],
    'replaced in place',
  );
  t.throws(() => q.update('c', { ...pub(99), messageId: 42 }), /no such packet/);
  t.equal(q.clear('c', 9)?.topic, 'pubrel');
});

t.test('thousands in flight: each update and clear finds its own packet', async (t) => {
  // Correctness at scale only; the cost per operation at this backlog is a benchmark
  // (npm run bench -- outgoing-queue), not a wall-clock assertion that a loaded machine breaks.
  const q = createOutgoingQueues<P>(copy);
  const n = 50_000;
  const id = (i: number) => i % 65535 || 65535;
  for (let i = 1; i <= n; i++) {
    q.enqueue('c', pub(i));
    q.update('c', { ...pub(i), messageId: id(i) });
  }
  t.equal(q.size('c'), n, 'all queued');
  t.same(
    q
      .snapshot('c')
      .slice(-2)
      .map((p) => [p.topic, p.messageId]),
    [
      [`t${n - 1}`, id(n - 1)],
      [`t${n}`, id(n)],
    ],
    'in order, each with its id',
  );
  let wrong = 0;
  for (let i = 1; i <= n; i++) if (q.clear('c', id(i))?.topic !== `t${i}`) wrong++;
  t.equal(wrong, 0, 'each clear returned the packet with that id');
  t.equal(q.size('c'), 0);
});
