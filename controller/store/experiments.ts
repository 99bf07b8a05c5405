// Persisted A/B experiments: the spec never changes after creation; the state is replaced whole.
import type { ExperimentSpec, ExperimentState } from '../experiment/model.js';
import type { Db } from './db.js';
import type { Answer, StoreMode } from './repository.js';

export interface ExperimentRecord {
  readonly spec: ExperimentSpec;
  readonly state: ExperimentState;
}

export interface ExperimentRepo<M extends StoreMode = 'sync'> {
  /** False when an experiment with that id exists (nothing written). */
  insert(spec: ExperimentSpec, state: ExperimentState, now: number): Answer<M, boolean>;
  update(id: string, state: ExperimentState, now: number): Answer<M, void>;
  get(id: string): Answer<M, ExperimentRecord | undefined>;
  /** Oldest first. */
  list(): Answer<M, ExperimentRecord[]>;
}

export const toExperimentRecord = (row: { spec: string; state: string }): ExperimentRecord => ({
  spec: JSON.parse(row.spec) as ExperimentSpec,
  state: JSON.parse(row.state) as ExperimentState,
});

export function createExperimentRepo(db: Db): ExperimentRepo<'sync'> {
  const insert = db.prepare(
    'INSERT INTO experiments(id, spec, state, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING',
  );
  const update = db.prepare(
    'UPDATE experiments SET state = ?, status = ?, updated_at = ? WHERE id = ?',
  );
  const selectOne = db.prepare('SELECT spec, state FROM experiments WHERE id = ?');
  const selectAll = db.prepare('SELECT spec, state FROM experiments ORDER BY created_at, id');
  return {
    insert(spec, state, now) {
      const args = [spec.id, JSON.stringify(spec), JSON.stringify(state), state.status, now, now];
      return insert.run(...args).changes > 0;
    },
    update(id, state, now) {
      update.run(JSON.stringify(state), state.status, now, id);
    },
    get(id) {
      const row = selectOne.get(id) as { spec: string; state: string } | undefined;
      return row ? toExperimentRecord(row) : undefined;
    },
    list() {
      return (selectAll.all() as { spec: string; state: string }[]).map(toExperimentRecord);
    },
  };
}
