import t from 'tap';
import { readFileSync } from 'node:fs';
import { isBmfError } from '../../../shared/errors.js';
import {
  parsePreprocessSpec,
  toModelTransformArgs,
  toNntcPreprocessString,
} from '../../../shared/preprocess/index.js';

interface ExportCase {
  name: string;
  spec: unknown;
  modelTransform: string[];
  nntc?: string;
  nntcError?: string;
}
const cases = JSON.parse(
  readFileSync(new URL('../../fixtures/preprocess/export-cases.json', import.meta.url), 'utf8'),
) as ExportCase[];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const spec = parsePreprocessSpec(c.spec);
    t.same(toModelTransformArgs(spec), c.modelTransform, 'model_transform flags');
    if (c.nntc !== undefined) {
      t.equal(toNntcPreprocessString(spec), c.nntc, 'nntc string');
    } else {
      let err: unknown;
      try {
        toNntcPreprocessString(spec);
      } catch (e) {
        err = e;
      }
      t.ok(isBmfError(err, 'BMF_ERR_PREPROCESS_SPEC'), 'nntc refuses what it cannot express');
      t.equal(isBmfError(err) ? err.details.field : undefined, c.nntcError, 'names the field');
    }
  });
}
