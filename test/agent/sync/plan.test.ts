import { readFileSync } from 'node:fs';
import t from 'tap';
import { planSteps } from '../../../agent/sync/plan.js';
import type { Facts, Step, Target } from '../../../agent/sync/plan.js';

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

for (const c of cases) {
  t.test(c.name, async (t) => {
    const facts: Facts = {
      ...c.facts,
      blobs: new Set(c.facts.blobs),
      verified: new Set(c.facts.verified),
      staged: new Set(c.facts.staged),
      rejected: new Set(c.facts.rejected),
      regressed: new Set(c.facts.regressed),
    };
    const target: Target | undefined = c.target
      ? {
          ...c.target,
          variants: c.target.variants.map((v) => ({ ...v, files: v.files ?? undefined })),
        }
      : undefined;
    const expected = c.steps.map((s) =>
      'size' in s && s.size === null ? { ...s, size: undefined } : s,
    );
    t.same(planSteps(facts, target), expected);
  });
}
