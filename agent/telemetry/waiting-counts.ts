// Requests no model answered wait in the reporter until a report carries them (reporter.ts). The
// outbox keeps reports, not these, so they are kept here as well: one small JSON file, written
// atomically whenever they change and removed just before the report that carries them is
// written. A restart reads it back; a crash between the removal and that write loses them
// rather than counting them twice.
import { readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { bmfError } from '../../shared/errors.js';
import { fsyncDir, writeFileAtomic } from '../../shared/fs/atomic.js';
import type { RequestCounters } from '../../shared/wire/messages.js';

const Count = Type.Integer({ minimum: 0 });
const Counters = Type.Object(
  {
    requests: Count,
    errors: Count,
    // The wire's code pattern (shared/wire/ids.ts); the catalogue is far below the bound.
    errorsByCode: Type.Record(Type.String({ pattern: '^[A-Z][A-Z0-9_]{0,63}$' }), Count, {
      maxProperties: 256,
      additionalProperties: false,
    }),
    shadowRequests: Count,
  },
  { additionalProperties: false },
);
const WaitingCountsSchema = Type.Object(
  {
    version: Type.Literal(1),
    variants: Type.Object(
      { A: Type.Optional(Counters), B: Type.Optional(Counters) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** A file this size is not ours: two variants' counters take a few hundred bytes. */
const MAX_BYTES = 64 * 1024;

export type WaitingCounts = Record<string, RequestCounters>;

export interface WaitingCountsFile {
  /** {} when there is no file; BMF_ERR_AGENT_STORE when it cannot be read or is not ours. */
  load(): Promise<WaitingCounts>;
  /** Writes the counts atomically; no counts removes the file. */
  save(counts: Readonly<WaitingCounts>): Promise<void>;
}

export function createWaitingCountsFile(path: string): WaitingCountsFile {
  const refuse = (reason: string) =>
    bmfError('BMF_ERR_AGENT_STORE', { reason: `${path}${reason}` });
  return {
    async load() {
      let bytes: Buffer;
      try {
        bytes = await readFile(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
        throw refuse(`: ${(e as Error).message}`);
      }
      if (bytes.length > MAX_BYTES) throw refuse(`: ${bytes.length} bytes, at most ${MAX_BYTES}`);
      let value: unknown;
      try {
        value = JSON.parse(bytes.toString('utf8'));
      } catch (e) {
        throw refuse(`: ${(e as Error).message}`);
      }
      if (!Value.Check(WaitingCountsSchema, value)) {
        const first = Value.Errors(WaitingCountsSchema, value).First();
        throw refuse(` ${first?.path ?? ''}: ${first?.message ?? 'invalid'}`);
      }
      for (const [variant, c] of Object.entries(value.variants)) {
        if (c && c.errors > c.requests) throw refuse(` ${variant}: more errors than requests`);
      }
      return { ...value.variants } as WaitingCounts;
    },
    async save(counts) {
      if (Object.keys(counts).length === 0) {
        try {
          await unlink(path);
          // Durable before the carrying report is written (that order is the whole point).
          await fsyncDir(dirname(path));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw bmfError('BMF_ERR_IO', { path, reason: (e as Error).message }, { cause: e });
        }
        return;
      }
      await writeFileAtomic(path, `${JSON.stringify({ version: 1, variants: counts })}\n`);
    },
  };
}
