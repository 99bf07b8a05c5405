// The published bmrt_test rows of the cost-fit benchmark (test/fixtures/cost/demo-bmrt.json,
// docs/cost-model.md): every row names its network's demo README, no row is given twice, the
// networks marked built are the ones the bench builds, the fit half is at most half of them, and
// every network says when each chip's rows were published and under which sophon-demo release;
// the sealed networks are never fitted, and without BMFLEET_COST_UNSEAL=1 the bench neither
// predicts nor prints anything of theirs but their size.
import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  BUILT,
  FIT_KINDS,
  networkLine,
  openRows,
  SEALED_KINDS,
  sealedSummary,
  unsealed,
} from '../../../bench/cost-fit.js';
import type { CostLayer } from '../../../controller/compile/cost/index.js';

interface Published {
  commit: string;
  date: string;
  release: string | null;
  earlierRowsFrom?: string[];
}

interface Fixture {
  commit: string;
  releases: Record<string, Partial<Record<'bm1684x' | 'bm1688', { tpuMlir: string; sdk: string }>>>;
  networks: Record<
    string,
    {
      readme: string;
      built: boolean;
      published: Partial<Record<string, Published>>;
      statedToolchain?: { tpuMlir: string; source: string };
    }
  >;
  rows: {
    model: string;
    chip: string;
    precision: string;
    batch: number;
    ms: number;
    source: string;
  }[];
}

const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/cost/demo-bmrt.json', import.meta.url), 'utf8'),
) as Fixture;
const CHIPS = new Set(['bm1684', 'bm1684x', 'bm1688', 'cv186x']);
const PRECISIONS = new Set(['fp32', 'fp16', 'int8']);

t.test('every row is well formed and cites its network README', async (t) => {
  t.match(fixture.commit, /^[0-9a-f]{40}$/, 'the rows are pinned to one commit');
  for (const r of fixture.rows) {
    const where = `${r.model} ${r.chip} ${r.precision} b${r.batch}`;
    const network = fixture.networks[r.model];
    t.ok(network, `${where}: its network is listed`);
    t.equal(r.source, network?.readme, `${where}: source is the network's README`);
    t.ok(CHIPS.has(r.chip), `${where}: known chip`);
    t.ok(PRECISIONS.has(r.precision), `${where}: known precision`);
    t.ok(r.batch === 1 || r.batch === 4, `${where}: batch 1 or 4`);
    t.ok(Number.isFinite(r.ms) && r.ms > 0, `${where}: a positive time`);
  }
  for (const [name, n] of Object.entries(fixture.networks)) {
    t.match(n.readme, /^sample\/[^/]+\/README\.md$/, `${name}: a demo README path`);
    t.ok(
      fixture.rows.some((r) => r.model === name),
      `${name}: has rows`,
    );
  }
});

t.test('no row is given twice', async (t) => {
  const keys = fixture.rows.map((r) => `${r.model}/${r.chip}/${r.precision}/${r.batch}`);
  t.same(
    keys.filter((k, i) => keys.indexOf(k) !== i),
    [],
  );
});

t.test('the networks marked built are the ones the bench builds', async (t) => {
  const built = Object.entries(fixture.networks)
    .filter(([, n]) => n.built)
    .map(([name]) => name)
    .sort();
  // YOLOv5s comes from the cost fixtures' graph builder, the rest from make_onnx.py.
  t.same(built, [...Object.keys(BUILT), 'yolov5s'].sort());
});

t.test('the fit half is at most half of the built networks', async (t) => {
  const built = Object.values(fixture.networks).filter((n) => n.built).length;
  for (const name of FIT_KINDS) t.ok(fixture.networks[name]?.built, `${name} is built`);
  t.ok(2 * FIT_KINDS.size <= built, `${FIT_KINDS.size} fitted of ${built}`);
});

t.test('the sealed networks are built, have rows and are never in the fit half', async (t) => {
  t.ok(SEALED_KINDS.size > 0, 'a sealed set');
  t.same(
    [...SEALED_KINDS].filter((n) => FIT_KINDS.has(n)),
    [],
    'sealed and fitted networks do not intersect',
  );
  for (const name of SEALED_KINDS) {
    t.ok(fixture.networks[name]?.built && name in BUILT, `${name} is built`);
    t.ok(
      fixture.rows.some((r) => r.model === name && r.chip !== 'cv186x'),
      `${name} has rows the bench reads`,
    );
  }
});

// A tiny fake row set: one sealed network (FP32 and INT8 on one chip) and one held-out network.
const sealedName = [...SEALED_KINDS][0] ?? '';
const fake = [
  { model: sealedName, chip: 'bm1684x', precision: 'fp32', batch: 1, ms: 10 },
  { model: sealedName, chip: 'bm1684x', precision: 'int8', batch: 1, ms: 2 },
  { model: 'c3d', chip: 'bm1684x', precision: 'fp32', batch: 1, ms: 40 },
];
const layer: CostLayer = {
  name: 'conv',
  kind: 'conv',
  macs: 2e9,
  weightElems: 3e6,
  activationInElems: 1,
  activationOutElems: 1,
};

t.test('without BMFLEET_COST_UNSEAL=1 no sealed row is predicted or printed', async (t) => {
  for (const env of [{}, { BMFLEET_COST_UNSEAL: '0' }, { BMFLEET_COST_UNSEAL: 'true' }]) {
    t.notOk(unsealed(env), `sealed with ${JSON.stringify(env)}`);
  }
  const open = openRows(fake, unsealed({}));
  t.same(
    open.map((r) => r.model),
    ['c3d'],
    'only the held-out network is predicted',
  );
  const called: string[] = [];
  const model = (r: (typeof fake)[number]) => {
    called.push(r.model);
    return r.ms;
  };
  t.same(sealedSummary(open, { groups: model }), [], 'no sealed summary');
  t.same(called, [], 'no model called');
  let confidence = 0;
  const line = networkLine(sealedName, [layer], 'sealed', () => `confidence ${++confidence}`, 2);
  t.equal(line, `${sealedName.padEnd(10)} 2.00 GMAC, 3.0 M weights, 1 layers; sealed: 2 rows`);
  t.equal(confidence, 0, 'no modeled figure computed for the line');
});

t.test('with BMFLEET_COST_UNSEAL=1 the sealed rows are predicted and summarised', async (t) => {
  const open = openRows(fake, unsealed({ BMFLEET_COST_UNSEAL: '1' }));
  t.equal(open.length, 3, 'every row predicted');
  // FP32 modeled 10 % slow, INT8 40 % slow: one row within 25 %, the ratio 1.1 / 1.4 - 1 = -21 %.
  const lines = sealedSummary(open, {
    groups: (r) => r.ms * (r.precision === 'fp32' ? 1.1 : 1.4),
  });
  t.match(lines[0] ?? '', /sealed networks \(first predicted after the model was frozen\)/);
  t.match(lines[0] ?? '', new RegExp(`${sealedName}, 2 rows`));
  t.equal(
    lines[1],
    'groups   sealed rows within +-25 %: 1 of 2, median error 40 %, worst 40 %; speed-up ratios within +-25 %: 1 of 1',
  );
  t.match(
    networkLine('c3d', [layer], 'held out', () => 'confidence low'),
    /\(held out\); confidence low$/,
  );
});
t.test('every chip of every network says when its rows were published', async (t) => {
  for (const [tag, tables] of Object.entries(fixture.releases)) {
    t.match(tag, /^0\.\d+\.\d+$/, `${tag}: a sophon-demo release tag`);
    t.ok(tables.bm1684x, `${tag}: has the BM1684/BM1684X requirement row`);
    for (const req of Object.values(tables)) t.match(req, { tpuMlir: /^>=\d/, sdk: /^>=v\d/ });
  }
  for (const [name, n] of Object.entries(fixture.networks)) {
    const chips = new Set(fixture.rows.filter((r) => r.model === name).map((r) => r.chip));
    t.same(
      Object.keys(n.published).sort(),
      [...chips].sort(),
      `${name}: one entry per chip with rows`,
    );
    for (const [chip, p] of Object.entries(n.published)) {
      const where = `${name} ${chip}`;
      t.match(p?.commit, /^[0-9a-f]{10}$/, `${where}: the commit that last changed those rows`);
      t.match(p?.date, /^20\d\d-\d\d-\d\d$/, `${where}: its date`);
      if (p?.release !== null)
        t.ok(fixture.releases[p?.release ?? ''], `${where}: a listed release`);
    }
    if (n.statedToolchain)
      t.match(
        n.statedToolchain.source,
        n.readme.replace(/\/README\.md$/, '/'),
        `${name}: the stated toolchain cites its own demo`,
      );
  }
});
