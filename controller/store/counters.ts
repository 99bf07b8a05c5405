// Named counters (malformed messages dropped, ACL denials...) that survive restarts.
import type { Db } from './db.js';
import type { Answer, StoreMode } from './repository.js';

export interface CounterRepo<M extends StoreMode = 'sync'> {
  add(name: string, by?: number): Answer<M, void>;
  /** Every increment in one transaction. */
  addAll(increments: Iterable<readonly [string, number]>): Answer<M, void>;
  /** Every counter, by name. */
  all(): Answer<M, Record<string, number>>;
}

export const ADD_COUNTER_SQL =
  'INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = counters.value + excluded.value';

export function createCounters(db: Db): CounterRepo<'sync'> {
  const inc = db.prepare(ADD_COUNTER_SQL);
  const all = db.prepare('SELECT name, value FROM counters ORDER BY name');
  const addAll = db.transaction((increments: Iterable<readonly [string, number]>) => {
    for (const [name, n] of increments) inc.run(name, n);
  });
  return {
    add(name, by = 1) {
      inc.run(name, by);
    },
    addAll(increments) {
      addAll(increments);
    },
    all() {
      const out: Record<string, number> = {};
      for (const row of all.all() as { name: string; value: number }[]) out[row.name] = row.value;
      return out;
    },
  };
}
export type Counters = CounterRepo<'sync'>;
