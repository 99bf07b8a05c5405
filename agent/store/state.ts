// The agent's durable state: installed assignment sequence, the bundle each variant serves and
// each variant's last-known-good. One JSON file written atomically (temp + fsync + rename + dir
// fsync), so after a crash it holds the state before or after a transition, never a mix.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { bmfError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import { DIGEST_PATTERN, DigestSchema } from '../../shared/ids.js';

// Every digest is checked against the one pattern when the file is read (load below), so the
// state holds branded Digests; a file with a malformed one is refused with BMF_ERR_AGENT_STORE.
const Digest = DigestSchema;
const PerVariant = Type.Object(
  { A: Type.Optional(Digest), B: Type.Optional(Digest) },
  { additionalProperties: false },
);

export const AgentStateSchema = Type.Object(
  {
    version: Type.Literal(1),
    installedSequence: Type.Integer({ minimum: 0 }),
    /** Blob holding the installed signed assignment envelope (to resume after a restart). */
    assignment: Type.Optional(Digest),
    /** Sequence of that assignment: written with it, before the broker gets its acknowledgement. */
    assignmentSequence: Type.Optional(Type.Integer({ minimum: 0 })),
    active: PerVariant,
    lastKnownGood: PerVariant,
    /**
     * Bundle digest -> the blob holding its signed manifest envelope (the bundle digest covers
     * only the signed part, so it names no blob). Absent for bundles whose blob is the digest.
     */
    /** Bundles served most recently, newest first (retention keeps a configured number). */
    recentBundles: Type.Optional(Type.Array(Digest, { maxItems: 64 })),
    manifestBlobs: Type.Optional(Type.Record(Type.String({ pattern: DIGEST_PATTERN }), Digest)),
  },
  { additionalProperties: false },
);
export type AgentState = Static<typeof AgentStateSchema>;

export const EMPTY_STATE: AgentState = {
  version: 1,
  installedSequence: 0,
  active: {},
  lastKnownGood: {},
};

export interface StateFile {
  load(): Promise<AgentState>;
  save(state: AgentState): Promise<void>;
}

export function createStateFile(dir: string): StateFile {
  const path = join(dir, 'state.json');
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_STATE;
        throw bmfError('BMF_ERR_AGENT_STORE', { reason: `${path}: ${(e as Error).message}` });
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        throw bmfError('BMF_ERR_AGENT_STORE', { reason: `${path}: ${(e as Error).message}` });
      }
      if (!Value.Check(AgentStateSchema, value)) {
        const first = Value.Errors(AgentStateSchema, value).First();
        throw bmfError('BMF_ERR_AGENT_STORE', {
          reason: `${path} ${first?.path ?? ''}: ${first?.message ?? 'invalid'}`,
        });
      }
      return value;
    },
    save: (state) => writeFileAtomic(path, `${JSON.stringify(state, null, 1)}\n`),
  };
}
