// Signed per-device assignments, append only: each insert takes the next sequence of its device
// inside the transaction that writes it, so two can never share one.
import type { Db } from './db.js';
import type { Answer, StoreMode } from './repository.js';

export interface AssignmentRow {
  readonly deviceId: string;
  readonly sequence: number;
  /** JSON of { assignment, reason }. */
  readonly body: string;
  /** Canonical bytes of the signed envelope. */
  readonly envelope: Uint8Array;
  readonly createdAt: number;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface AssignmentRepo<M extends StoreMode = 'sync'> {
  latest(deviceId: string): Answer<M, AssignmentRow | undefined>;
  /** Every device's newest assignment, by device id. */
  latestPerDevice(): Answer<M, AssignmentRow[]>;
  /**
   * In one transaction, for each item: `make` gets the device's highest stored sequence (0 when
   * none) and returns the row to insert. An item whose `make` throws writes nothing; the others
   * still commit together (one fsync for a whole group of devices).
   */
  appendEach<T>(
    items: readonly T[],
    deviceOf: (item: T) => string,
    make: (item: T, storedMax: number) => AssignmentRow,
  ): Answer<M, Outcome<AssignmentRow>[]>;
}

interface Row {
  device_id: string;
  sequence: number;
  body: string;
  envelope: Buffer;
  created_at: number;
}

export const toAssignmentRow = (r: Row): AssignmentRow => ({
  deviceId: r.device_id,
  sequence: Number(r.sequence),
  body: r.body,
  envelope: new Uint8Array(r.envelope),
  createdAt: Number(r.created_at),
});

export function createAssignmentRepo(db: Db): AssignmentRepo<'sync'> {
  const q = {
    latest: db.prepare(
      'SELECT * FROM assignments WHERE device_id = ? ORDER BY sequence DESC LIMIT 1',
    ),
    maxSeq: db.prepare('SELECT MAX(sequence) AS s FROM assignments WHERE device_id = ?'),
    insert: db.prepare(
      'INSERT INTO assignments(device_id, sequence, body, envelope, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    latestAll: db.prepare(
      'SELECT a.* FROM assignments a JOIN (SELECT device_id, MAX(sequence) AS s FROM assignments GROUP BY device_id) m ON a.device_id = m.device_id AND a.sequence = m.s ORDER BY a.device_id',
    ),
  };
  return {
    latest(deviceId) {
      const r = q.latest.get(deviceId) as Row | undefined;
      return r ? toAssignmentRow(r) : undefined;
    },
    latestPerDevice() {
      return (q.latestAll.all() as Row[]).map(toAssignmentRow);
    },
    appendEach(items, deviceOf, make) {
      return db.transaction(() =>
        items.map((item) => {
          try {
            const max = (q.maxSeq.get(deviceOf(item)) as { s: number | null }).s ?? 0;
            const row = make(item, max);
            q.insert.run(
              row.deviceId,
              row.sequence,
              row.body,
              Buffer.from(row.envelope),
              row.createdAt,
            );
            return { ok: true as const, value: row };
          } catch (error) {
            return { ok: false as const, error }; // nothing was written for this one
          }
        }),
      )();
    },
  };
}
