// Persisted rollouts: the spec never changes after creation; the planner's state is replaced
// whole in one statement, so a controller killed at any moment resumes from the last state it
// committed (the executor writes the state before it acts on the returned actions).
import { bmfError } from '../../shared/errors.js';
import type { RolloutEventType, RolloutSpec, RolloutState } from '../rollout/model.js';
import type { Db } from './db.js';
import type { Answer, StoreMode } from './repository.js';

export interface RolloutRecord {
  readonly spec: RolloutSpec;
  readonly state: RolloutState;
  readonly createdAt: number;
}

export interface RolloutEventRecord {
  readonly id: number;
  readonly at: number;
  readonly type: RolloutEventType;
  readonly deviceId: string | null;
  readonly message: string;
}

export type NewRolloutEvent = { type: RolloutEventType; message: string; deviceId?: string };

export interface RolloutRepo<M extends StoreMode = 'sync'> {
  /** BMF_ERR_CONFLICT when the id exists. */
  create(spec: RolloutSpec, state: RolloutState, now: number): Answer<M, void>;
  get(id: string): Answer<M, RolloutRecord | undefined>;
  /** BMF_ERR_NOT_FOUND when absent. */
  require(id: string): Answer<M, RolloutRecord>;
  /** Newest first. */
  list(): Answer<M, RolloutRecord[]>;
  /** Running ones, oldest first. */
  running(): Answer<M, RolloutRecord[]>;
  /** Save the new state and its events atomically. */
  save(id: string, state: RolloutState, newEvents: readonly NewRolloutEvent[]): Answer<M, void>;
  events(id: string, afterId?: number, limit?: number): Answer<M, RolloutEventRecord[]>;
}

interface Row {
  id: string;
  spec: string;
  state: string;
  created_at: number;
}

export const toRolloutRecord = (r: Row): RolloutRecord => ({
  spec: JSON.parse(r.spec) as RolloutSpec,
  state: JSON.parse(r.state) as RolloutState,
  createdAt: Number(r.created_at),
});

export const toRolloutEvent = (r: {
  id: number;
  at: number;
  type: RolloutEventType;
  device_id: string | null;
  message: string;
}): RolloutEventRecord => ({
  id: Number(r.id),
  at: Number(r.at),
  type: r.type,
  deviceId: r.device_id,
  message: r.message,
});

const toRecord = toRolloutRecord;

export function createRolloutRepo(db: Db): RolloutRepo<'sync'> {
  const insert = db.prepare(
    'INSERT INTO rollouts(id, spec, state, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const update = db.prepare(
    'UPDATE rollouts SET state = ?, status = ?, updated_at = ? WHERE id = ?',
  );
  const byId = db.prepare('SELECT * FROM rollouts WHERE id = ?');
  const all = db.prepare('SELECT * FROM rollouts ORDER BY created_at DESC, id');
  const byStatus = db.prepare('SELECT * FROM rollouts WHERE status = ? ORDER BY created_at');
  const addEvent = db.prepare(
    'INSERT INTO rollout_events(rollout_id, at, type, device_id, message) VALUES (?, ?, ?, ?, ?)',
  );
  const events = db.prepare(
    'SELECT id, at, type, device_id, message FROM rollout_events WHERE rollout_id = ? AND id > ? ORDER BY id LIMIT ?',
  );

  return {
    create(spec: RolloutSpec, state: RolloutState, now: number): void {
      if (byId.get(spec.id)) {
        throw bmfError('BMF_ERR_CONFLICT', { kind: 'rollout', id: spec.id, reason: 'exists' });
      }
      insert.run(spec.id, JSON.stringify(spec), JSON.stringify(state), state.status, now, now);
    },
    get(id: string): RolloutRecord | undefined {
      const r = byId.get(id) as Row | undefined;
      return r ? toRecord(r) : undefined;
    },
    require(id: string): RolloutRecord {
      const r = byId.get(id) as Row | undefined;
      if (!r) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'rollout', id });
      return toRecord(r);
    },
    list(): RolloutRecord[] {
      return (all.all() as Row[]).map(toRecord);
    },
    running(): RolloutRecord[] {
      return (byStatus.all('running') as Row[]).map(toRecord);
    },
    /** Save the new state and its events atomically. */
    save(id: string, state: RolloutState, newEvents: readonly NewRolloutEvent[]): void {
      db.transaction(() => {
        update.run(JSON.stringify(state), state.status, state.updatedAt, id);
        for (const e of newEvents) {
          addEvent.run(id, state.updatedAt, e.type, e.deviceId ?? null, e.message);
        }
      })();
    },
    events(id: string, afterId = 0, limit = 500): RolloutEventRecord[] {
      return (events.all(id, afterId, limit) as Parameters<typeof toRolloutEvent>[0][]).map(
        toRolloutEvent,
      );
    },
  };
}
