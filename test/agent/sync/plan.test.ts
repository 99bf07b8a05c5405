import { readFileSync } from 'node:fs';
import t from 'tap';
import { planSteps } from '../../../agent/sync/plan.js';
import type { Facts, Step, Target } from '../../../agent/sync/plan.js';
import { parseDigest } from '../../../shared/ids.js';

interface Case {
  name: string;
  facts: Omit<Facts, 'blobs' | 'verified' | 'staged' | 'rejected' | 'regressed'> & {
    blobs: string[];
    verified: string[];
    staged: string[];
    rejected: string[];
    regressed: ('A' | 'B')[];
  };
  target:
    | (Omit<Target, 'variants'> & {
        variants: {
          name: 'A' | 'B';
          bundleDigest: string;
          files: { digest: string; size: number }[] | null;
        }[];
      })
    | null;
  steps: (Step & { size?: number | null })[];
}

const cases = JSON.parse(
  readFileSync(new URL('../../fixtures/agent/plan-cases.json', import.meta.url), 'utf8'),
) as Case[];

/** The case file's digest lists, parsed as the agent's facts hold them. */
const digests = (list: readonly string[]) => new Set(list.map((d) => parseDigest(d)));

for (const c of cases) {
  t.test(c.name, async (t) => {
    const facts: Facts = {
      ...c.facts,
      blobs: digests(c.facts.blobs),
      verified: digests(c.facts.verified),
      staged: digests(c.facts.staged),
      rejected: digests(c.facts.rejected),
      regressed: new Set(c.facts.regressed),
    };
    const target: Target | undefined = c.target
      ? {
          ...c.target,
          variants: c.target.variants.map((v) => ({
            ...v,
            bundleDigest: parseDigest(v.bundleDigest),
            files: v.files?.map((f) => ({ ...f, digest: parseDigest(f.digest) })),
          })),
        }
      : undefined;
    const expected = c.steps.map((s) =>
      'size' in s && s.size === null ? { ...s, size: undefined } : s,
    );
    t.same(planSteps(facts, target), expected);
  });
}
