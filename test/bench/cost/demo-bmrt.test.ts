// The published bmrt_test rows of the cost-fit benchmark (test/fixtures/cost/demo-bmrt.json,
// docs/cost-model.md): every row names its network's demo README, no row is given twice, the
// networks marked built are the ones the bench builds, the fit half is at most half of them, and
// every network says when each chip's rows were published and under which sophon-demo release.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { BUILT, FIT_KINDS } from '../../../bench/cost-fit.js';

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
