import { readFileSync } from 'node:fs';
import t from 'tap';
import { createShadowPairStore } from '../../../agent/serve/shadow-pairs.js';
import type {
  FeedbackLabel,
  PairedOutcome,
  Prediction,
} from '../../../agent/serve/shadow-pairs.js';
import { parseDigest } from '../../../shared/ids.js';

interface Case {
  why: string;
  a: number;
  b: number;
  aLabels?: string[] | null;
  bLabels?: string[] | null;
  label: FeedbackLabel;
  outcome: PairedOutcome;
}
const table = JSON.parse(
  readFileSync(new URL('../../fixtures/agent/shadow-feedback-cases.json', import.meta.url), 'utf8'),
) as { labels: string[]; cases: Case[] };

const pick = (l: string[] | null | undefined): readonly string[] | undefined =>
  l === null ? undefined : (l ?? table.labels);
const a = (top1: number, labels?: string[] | null): Prediction => ({
  variant: 'A',
  bundleDigest: parseDigest('a'.repeat(64)),
  top1,
  labels: pick(labels),
});
const b = (top1: number, labels?: string[] | null): Prediction => ({
  variant: 'B',
  bundleDigest: parseDigest('b'.repeat(64)),
  top1,
  labels: pick(labels),
});

function store(limits = { capacity: 100, ttlMs: 1000 }) {
  let now = 0;
  const s = createShadowPairStore(limits, () => now);
  return { s, at: (ms: number) => void (now = ms) };
}

t.test('(A top-1, B top-1, label) -> the one counter that increments', async (t) => {
  for (const c of table.cases) {
    // The shadow run finishes first, then the label comes.
    const late = store();
    late.s.open('r', a(c.a, c.aLabels));
    t.equal(late.s.resolve('r', b(c.b, c.bLabels)), undefined, `${c.why}: nothing until labelled`);
    t.equal(late.s.label('r', c.label)?.outcome, c.outcome, `${c.why} (label after shadow)`);
    // The label comes while the shadow run is still in flight: it waits for it.
    const early = store();
    early.s.open('r', a(c.a, c.aLabels));
    t.equal(early.s.label('r', c.label), undefined, `${c.why}: waits for the shadow`);
    t.equal(early.s.resolve('r', b(c.b, c.bLabels))?.outcome, c.outcome, `${c.why} (before)`);
    t.equal(early.s.size(), 0, `${c.why}: scored pairs leave the store`);
  }
});

t.test('each request id is scored at most once', async (t) => {
  const { s } = store();
  s.open('r1', a(1));
  s.resolve('r1', b(1));
  t.equal(s.label('r1', 1)?.outcome, 'bothCorrect');
  t.equal(s.label('r1', 1), undefined, 'second label after scoring');
  s.open('r2', a(1));
  t.equal(s.label('r2', 1), undefined, 'first label waits');
  t.equal(s.label('r2', 2), undefined, 'second label while one waits is ignored');
  t.equal(s.resolve('r2', b(2))?.outcome, 'aOnlyCorrect', 'scored with the first label');
  t.equal(s.label('r2', 2), undefined);
});

t.test('no pair: never shadowed, shadow failed', async (t) => {
  const { s } = store();
  t.equal(s.label('never', 0), undefined);
  t.equal(s.resolve('never', b(0)), undefined, 'a result for an unknown id is dropped');
  t.equal(s.size(), 0);
  s.open('r', a(0));
  s.label('r', 0);
  s.fail('r');
  t.equal(s.resolve('r', b(0)), undefined, 'a failed shadow run leaves nothing to score');
  t.equal(s.size(), 0);
});

t.test('bounded by count: the oldest request ids go first', async (t) => {
  const { s } = store({ capacity: 3, ttlMs: 1000 });
  for (let i = 0; i < 5; i++) {
    s.open(`r${i}`, a(0));
    s.resolve(`r${i}`, b(0));
  }
  t.equal(s.size(), 3);
  t.same(
    [0, 1, 2, 3, 4].map((i) => s.label(`r${i}`, 0)?.outcome ?? 'evicted'),
    ['evicted', 'evicted', 'bothCorrect', 'bothCorrect', 'bothCorrect'],
  );
  const zero = store({ capacity: 0, ttlMs: 1000 });
  zero.s.open('r', a(0));
  t.equal(zero.s.size(), 0, 'capacity 0 keeps nothing');
});

t.test('bounded by age: a pair older than the TTL is not scored', async (t) => {
  const { s, at } = store({ capacity: 100, ttlMs: 1000 });
  const open = (id: string, ms: number): void => {
    at(ms);
    s.open(id, a(0));
    s.resolve(id, b(1));
  };
  open('old', 0);
  open('young', 500);
  at(999);
  t.equal(s.size(), 2);
  at(1000);
  t.equal(s.size(), 1, 'expired at exactly the TTL');
  t.equal(s.label('old', 0), undefined);
  t.equal(s.label('young', 0)?.outcome, 'aOnlyCorrect');
  // A label waiting on a shadow run that outlives the TTL is dropped with it.
  at(2000);
  s.open('slow', a(0));
  s.label('slow', 0);
  at(3000);
  t.equal(s.resolve('slow', b(0)), undefined);
  // An id opened again (a retried id) starts afresh, at the back of the age order.
  open('again', 3000);
  open('other', 3100);
  open('again', 3200);
  at(4150);
  t.equal(s.label('other', 1), undefined, 'opened at 3100: expired');
  t.equal(s.label('again', 1)?.outcome, 'bOnlyCorrect', 'reopened at 3200: still kept');
});
