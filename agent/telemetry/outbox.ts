// Telemetry reports wait here until the broker takes them: one file per report (written
// atomically), named by a growing sequence number so they are sent in order after a restart.
// Bounded: past `limit` the oldest report is dropped and counted (BMF_ERR_AGENT_OUTBOX_FULL);
// below the bound nothing is lost.
import { mkdir, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/fs/atomic.js';

export interface Outbox {
  enqueue(report: Uint8Array): Promise<void>;
  /** Sends in order, deleting each report after `send` resolved; stops at the first failure. */
  drain(send: (report: Uint8Array) => Promise<void>): Promise<number>;
  size(): number;
  dropped(): number;
  /** Reports kept at most; past it the oldest is dropped. */
  readonly limit: number;
}

const NAME = /^(\d{16})\.report$/;

export async function createOutbox(dir: string, limit = 1000): Promise<Outbox> {
  await mkdir(dir, { recursive: true });
  const queue = (await readdir(dir))
    .map((n) => NAME.exec(n)?.[1])
    .filter((s): s is string => s !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  let next = (queue[queue.length - 1] ?? 0) + 1;
  let droppedCount = 0;
  let draining: Promise<number> | undefined;
  let writing: Promise<void> = Promise.resolve();
  const pathOf = (seq: number): string => join(dir, `${String(seq).padStart(16, '0')}.report`);

  return {
    enqueue(report) {
      // One write at a time, in call order: two writes racing would put a later item in the
      // queue (and on the wire) before an earlier one whose write finished second.
      const write = writing.then(async () => {
        const seq = next++;
        await writeFileAtomic(pathOf(seq), report);
        queue.push(seq);
        while (queue.length > limit) {
          const oldest = queue.shift() as number;
          droppedCount += 1;
          await unlink(pathOf(oldest)).catch(() => undefined);
        }
      });
      writing = write.catch(() => undefined);
      return write;
    },
    drain(send) {
      // One drain at a time: a reconnect during a drain must not send a report twice. The
      // promise is stored before it can settle (`.finally` runs asynchronously).
      draining ??= (async () => {
        let sent = 0;
        while (queue.length > 0) {
          const seq = queue[0] as number;
          const bytes = await readFile(pathOf(seq)).catch(() => undefined);
          if (bytes) await send(bytes);
          if (queue[0] === seq) queue.shift();
          await unlink(pathOf(seq)).catch(() => undefined);
          sent += bytes ? 1 : 0;
        }
        return sent;
      })().finally(() => {
        draining = undefined;
      });
      return draining;
    },
    size: () => queue.length,
    dropped: () => droppedCount,
    limit,
  };
}
