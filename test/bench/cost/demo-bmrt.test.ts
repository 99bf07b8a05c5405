// The published bmrt_test rows of the cost-fit benchmark (test/fixtures/cost/demo-bmrt.json,
// docs/cost-model.md): every row names its network's demo README, no row is given twice, the
// networks marked built are the ones the bench builds, and the fit half is at most half of them.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { BUILT, FIT_KINDS } from '../../../bench/cost-fit.js';

interface Fixture {
  commit: string;
  networks: Record<string, { readme: string; built: boolean }>;
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
