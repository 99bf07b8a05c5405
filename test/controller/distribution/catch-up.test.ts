// The assignment catch-up rule (controller/distribution/catch-up.ts) through the assignment
// service's `catchUp`, the entry the controller calls for every stored device state: cases as
// data (test/fixtures/controller/distribution/catch-up-cases.json), each a timeline of reports
// against the sequences persisted per device, with the copies that must have been published.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { createAssignmentService } from '../../../controller/distribution/assignments.js';
import type { AssignmentRepo, AssignmentRow } from '../../../controller/store/assignments.js';
import type { StoreMode } from '../../../controller/store/repository.js';
import { decodeMessage } from '../../../shared/wire/codec.js';
import { parseTopic } from '../../../shared/wire/topics.js';
import { decideCatchUp } from '../../../controller/distribution/catch-up.js';

interface Case {
  readonly name: string;
  /** Latest persisted sequence per device. */
  readonly persisted: Record<string, number>;
  readonly windowMs: number;
  /** A newer assignment persisted at that time (made elsewhere: this service does not publish it). */
  readonly assignAt?: { atMs: number; device: string; sequence: number };
  readonly reports: { atMs: number; device: string; reported: number; decision: string }[];
  /** Copies published, as device#sequence, in order. */
  readonly published: string[];
}

const cases = JSON.parse(
  readFileSync(
    new URL('../../fixtures/controller/distribution/catch-up-cases.json', import.meta.url),
    'utf8',
  ),
) as Case[];

const row = (deviceId: string, sequence: number): AssignmentRow => ({
  deviceId,
  sequence,
  body: JSON.stringify({ assignment: { sequence }, reason: 'test' }),
  // Stands for the signed envelope: the copy published must be the persisted bytes.
  envelope: new TextEncoder().encode(`${deviceId}#${sequence}`),
  createdAt: 0,
});

for (const c of cases) {
  t.test(c.name, async (t) => {
    const persisted = new Map(Object.entries(c.persisted));
    let now = 1_000_000;
    const start = now;
    const published: string[] = [];
    const assignments = createAssignmentService({
      // catchUp reads only the latest row per device.
      store: {
        latest: (id: string) => {
          const s = persisted.get(id);
          return s === undefined ? undefined : row(id, s);
        },
      } as unknown as AssignmentRepo<StoreMode>,
      registry: { requireBundle: () => Promise.reject(new Error('not used')) },
      devices: {
        require: () => Promise.reject(new Error('not used')),
        list: () => [],
      },
      signers: [],
      publish: async (topic, payload, opts) => {
        t.same(opts, { qos: 1, retain: true }, 'QoS 1, retained like every assignment');
        const { envelope } = decodeMessage('SignedAssignment', payload);
        const to = parseTopic(topic);
        t.equal(to.kind, 'assignment');
        const copy = Buffer.from(envelope).toString();
        t.equal(copy.split('#')[0], to.kind === 'assignment' ? to.deviceId : '', 'to its device');
        published.push(copy);
      },
      clock: { wallNow: () => now },
      defaults: { expiresInMs: 86_400_000, health: { maxErrorRate: 1, maxP95Ms: 1, windowS: 1 } },
      catchUpWindowMs: c.windowMs,
    });
    for (const r of c.reports) {
      now = start + r.atMs;
      if (c.assignAt && r.atMs >= c.assignAt.atMs)
        persisted.set(c.assignAt.device, c.assignAt.sequence);
      const d = await assignments.catchUp(r.device, r.reported);
      t.equal(
        d.kind === 'republish' ? 'republish' : d.why,
        r.decision,
        `${r.device} reports ${r.reported} at ${r.atMs} ms`,
      );
    }
    t.same(published, c.published, 'copies published');
  });
}

t.test('the pure rule: behind by any amount, at the window edge', async (t) => {
  const base = { now: 100_000, windowMs: 60_000 };
  t.same(decideCatchUp({ ...base, reported: 0, persisted: 9, lastSentAt: undefined }), {
    kind: 'republish',
  });
  t.same(decideCatchUp({ ...base, reported: 8, persisted: 9, lastSentAt: 40_001 }), {
    kind: 'none',
    why: 'rate-limited',
  });
  t.same(decideCatchUp({ ...base, reported: 8, persisted: 9, lastSentAt: 40_000 }), {
    kind: 'republish',
  });
});
