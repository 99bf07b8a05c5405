import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  assertSupported,
  encodeOnnx,
  loadOnnx,
  valueInfo,
} from '../../../controller/onnx/index.js';
import type { OnnxModel } from '../../../controller/onnx/index.js';
import { isBmfError } from '../../../shared/errors.js';
import { fixturesDir, modelFromFixture, readModelFixture } from './fixture-model.js';
import { seededBytes } from '../../../shared/stats/seeded-random.js';

interface Make {
  kind: 'bytes' | 'random' | 'truncate' | 'edit';
  hex?: string;
  seed?: number;
  length?: number;
  keep?: number;
  opType?: Record<string, string>;
  domain?: Record<string, string>;
  inputDims?: (number | string)[];
  inputElemType?: number;
  inputShapes?: number[][];
  opset?: number;
}
interface Case {
  name: string;
  make: Make;
  code: string;
  mentions: string[];
}

const table = JSON.parse(readFileSync(new URL('hostile.json', fixturesDir), 'utf8')) as {
  cases: Case[];
};
const base = modelFromFixture(readModelFixture());

// A small deterministic generator (mulberry32) so "random" bytes are the same on every run.
function edited(make: Make): OnnxModel {
  const nodes = (base.graph.node ?? []).map((n) => ({
    ...n,
    ...(make.opType?.[n.name ?? ''] ? { opType: make.opType[n.name ?? ''] } : {}),
    ...(make.domain?.[n.name ?? ''] ? { domain: make.domain[n.name ?? ''] } : {}),
  }));
  const input =
    make.inputDims || make.inputElemType
      ? [valueInfo('x', make.inputElemType ?? 1, make.inputDims ?? [1, 1, 6, 6])]
      : base.graph.input;
  return {
    ...base,
    ...(make.opset ? { opsetImport: [{ domain: '', version: make.opset }] } : {}),
    graph: { ...base.graph, node: nodes, input },
  };
}

function attempt(make: Make): void {
  if (make.kind === 'bytes') loadOnnx(Buffer.from(make.hex ?? '', 'hex'));
  else if (make.kind === 'random') loadOnnx(seededBytes(make.length ?? 64, make.seed ?? 1));
  else if (make.kind === 'truncate') {
    const bytes = encodeOnnx(base);
    loadOnnx(bytes.subarray(0, Math.floor(bytes.length * (make.keep ?? 0.5))));
  } else {
    // Edited models go through bytes, as a file would.
    const model = loadOnnx(encodeOnnx(edited(make)));
    assertSupported(model, make.inputShapes);
  }
}

t.test('the unedited fixture passes the checks', async (t) => {
  t.doesNotThrow(() => assertSupported(loadOnnx(encodeOnnx(base))));
});

for (const c of table.cases) {
  t.test(c.name, async (t) => {
    let caught: unknown;
    try {
      attempt(c.make);
    } catch (e) {
      caught = e;
    }
    t.ok(isBmfError(caught), `throws a BmfError (got ${String(caught)})`);
    if (!isBmfError(caught)) return;
    t.equal(caught.code, c.code);
    const text = `${caught.message} ${JSON.stringify(caught.details)}`;
    for (const m of c.mentions) t.match(text, m, `message mentions ${m}`);
  });
}
