// `npm run bench -- outgoing-queue`: the broker's indexed QoS 1/2 queues
// (controller/broker/outgoing-queue.ts) must cost the same per operation however far a
// subscriber falls behind. Time per enqueue + update + clear with 1 000 and with 50 000 packets
// in flight; the ratio of the two should stay near 1 (target <= 2; the array-scanning store it
// replaced grew with the backlog, taking seconds at 50 000).
import { createOutgoingQueues } from '../controller/broker/outgoing-queue.js';
import type { QueuedPacket } from '../controller/broker/outgoing-queue.js';

interface P extends QueuedPacket {
  topic: string;
}
const ROUNDS = 5;

/** ns per packet for `inFlight` packets enqueued, given ids, then all cleared. */
function nsPerPacket(inFlight: number): number {
  const q = createOutgoingQueues<P>((p) => ({ ...p, messageId: undefined }));
  const id = (i: number) => i % 65535 || 65535;
  const start = process.hrtime.bigint();
  for (let i = 1; i <= inFlight; i++) {
    q.enqueue('c', { brokerId: 'b1', brokerCounter: i, topic: `t${i}` });
    q.update('c', { brokerId: 'b1', brokerCounter: i, topic: `t${i}`, messageId: id(i) });
  }
  for (let i = 1; i <= inFlight; i++) q.clear('c', id(i));
  const ns = Number(process.hrtime.bigint() - start);
  if (q.size('c') !== 0) throw new Error('queue not empty after clearing every packet');
  return ns / inFlight;
}

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export async function run(): Promise<void> {
  const sizes = [1_000, 50_000];
  nsPerPacket(10_000); // warm up the JIT
  const per = sizes.map((n) => median(Array.from({ length: ROUNDS }, () => nsPerPacket(n))));
  console.log(`outgoing-queue: enqueue + update + clear, ${ROUNDS} rounds, median`);
  sizes.forEach((n, i) =>
    console.log(`  ${String(n).padStart(6)} in flight  ${per[i]!.toFixed(0)} ns/packet`),
  );
  const ratio = per[1]! / per[0]!;
  console.log(
    `  ratio 50k/1k        ${ratio.toFixed(2)} (target <= 2) ${ratio <= 2 ? 'PASS' : 'ABOVE TARGET'}`,
  );
  await Promise.resolve();
}
