// The threshold search scores a candidate by re-running only the part of the INT8 graph its
// changed threshold reaches (controller/quantize/suffix.ts). These tests hold that to a whole run
// of the same candidate with the same session options: equal outputs (tolerance 0: the suffix runs
// the very same kernels on the very same int8 values), and an identical search.
import t from 'tap';
import {
  calibrationEntries,
  collectActivationStats,
} from '../../../controller/quantize/calibrate.js';
import { prepareModel } from '../../../controller/quantize/prepared-model.js';
import { buildInt8Graph } from '../../../controller/quantize/qdq.js';
import { runOutputs } from '../../../controller/quantize/score.js';
import { searchThresholds } from '../../../controller/quantize/search.js';
import { changedSuffix } from '../../../controller/quantize/suffix.js';
import { createSuffixScorer } from '../../../controller/quantize/suffix-scorer.js';
import { startScoringShards } from '../../../controller/quantize/suffix-shards.js';
import { THRESHOLD_METHODS } from '../../../controller/quantize/thresholds.js';
import type { Tensor } from '../../../shared/tensor.js';
import { residualInputs, residualModelBytes } from './residual-model.js';

/** Largest absolute difference between two runs' outputs, over images and outputs. */
function maxDifference(
  a: readonly Readonly<Record<string, Tensor>>[],
  b: readonly Readonly<Record<string, Tensor>>[],
): number {
  let m = 0;
  for (const [k, ra] of a.entries()) {
    for (const [name, ta] of Object.entries(ra)) {
      const x = ta.data as Float32Array;
      const y = b[k]![name]!.data as Float32Array;
      if (x.length !== y.length) return Infinity;
      for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
    }
  }
  return m;
}

async function setUp() {
  const pm = await prepareModel(residualModelBytes(), 'residual.onnx');
  const inputs = residualInputs(24);
  const stats = await collectActivationStats(pm, inputs.slice(0, 16));
  const heldOut = inputs.slice(16);
  const reference = await runOutputs(pm.bytes, pm.input.name, heldOut);
  const tables = new Map(
    THRESHOLD_METHODS.map((m) => [
      m,
      new Map(calibrationEntries(stats, m).map((e) => [e.name, e.threshold])),
    ]),
  );
  const graphOf = (th: ReadonlyMap<string, number>) =>
    buildInt8Graph(pm.model, pm.layers, { thresholds: th }).model;
  return { pm, stats, heldOut, reference, tables, graphOf };
}

t.test('both whole-graph scorers score the float model itself as the reference', async (t) => {
  const { pm, heldOut, reference, tables, graphOf } = await setUp();
  const base = graphOf(tables.get('kl')!);
  for (const mode of ['full', 'fused'] as const) {
    const { scorer, startCosine } = await createSuffixScorer(pm, base, heldOut, reference, mode);
    const own = await scorer.score(pm.model);
    // Float arithmetic only: the same outputs up to summation order (tolerance 1e-6).
    t.ok(Math.abs(own.cosine - 1) < 1e-6, `${mode}: float model ${own.cosine}`);
    t.equal(own.share, 1, `${mode}: the whole graph is run`);
    t.equal(own.outputs.length, heldOut.length, `${mode}: one output set per scored image`);
    t.ok(startCosine > 0.5 && startCosine < 1, `${mode}: the INT8 start scores ${startCosine}`);
  }
});

t.test('a suffix run gives the outputs of a whole run, for every tensor and method', async (t) => {
  const { pm, stats, heldOut, reference, tables, graphOf } = await setUp();
  const kl = tables.get('kl')!;
  const base = graphOf(kl);
  const suffix = await createSuffixScorer(pm, base, heldOut, reference, 'suffix');
  const full = await createSuffixScorer(pm, base, heldOut, reference, 'full');
  // The suffix scorer's threads end also when an assertion throws.
  t.teardown(() => suffix.scorer.release());
  t.equal(suffix.startCosine, full.startCosine, 'same starting score');
  const sources = [...new Set([...stats.values()].map((s) => s.source))];
  let partial = 0;
  let compared = 0;
  for (const [k, src] of sources.entries()) {
    // Adopt every other candidate, so later suffixes start from values the scorer took over.
    for (const m of THRESHOLD_METHODS) {
      const trial = new Map(kl);
      for (const s of stats.values())
        if (s.source === src) trial.set(s.name, tables.get(m)!.get(s.name)!);
      const candidate = graphOf(trial);
      const a = await suffix.scorer.score(candidate);
      const b = await full.scorer.score(candidate);
      t.equal(maxDifference(a.outputs, b.outputs), 0, `${src} with ${m}: outputs equal`);
      t.equal(a.cosine, b.cosine, `${src} with ${m}: score equal`);
      compared++;
      if (a.share < 1) partial++;
      if (k % 2 === 0 && m === 'max') {
        await a.adopt();
        await b.adopt();
        for (const [n, v] of trial) kl.set(n, v);
      }
    }
  }
  t.ok(compared >= 8, `${compared} candidates compared`);
  t.ok(partial > 0, `${partial} candidates ran less than the whole graph`);
});

t.test('the cut is at int8 tensors or graph inputs, and a late change cuts late', async (t) => {
  const { pm, stats, tables, graphOf } = await setUp();
  const kl = tables.get('kl')!;
  const base = graphOf(kl);
  const nodes = base.graph.node ?? [];
  const quantOutputs = new Set(
    nodes.filter((n) => n.opType === 'QuantizeLinear').flatMap((n) => n.output ?? []),
  );
  t.same(changedSuffix(base, graphOf(kl)).nodes, [], 'an unchanged table re-runs nothing');
  const sources = [...new Set([...stats.values()].map((s) => s.source))];
  const last = sources.at(-1)!;
  const trial = new Map(kl);
  trial.set(last, kl.get(last)! * 1.5);
  const late = changedSuffix(base, graphOf(trial));
  t.ok(
    late.nodes.length > 0 && late.nodes.length < nodes.length / 2,
    `${late.nodes.length} of ${nodes.length} nodes`,
  );
  for (const b of late.boundary) {
    t.ok(quantOutputs.has(b) || b === pm.input.name, `boundary ${b} is stored int8 or the input`);
  }
  const first = new Map(kl);
  first.set(pm.input.name, kl.get(pm.input.name)! * 1.5);
  const early = changedSuffix(base, graphOf(first));
  t.same(early.boundary, [pm.input.name], 'a change at the input re-runs from the input');
});

t.test('the search chooses the same thresholds with suffix and whole runs', async (t) => {
  const { pm, stats, heldOut, reference } = await setUp();
  const a = await searchThresholds(pm, stats, { heldOut, reference, scoring: 'suffix' });
  const b = await searchThresholds(pm, stats, { heldOut, reference, scoring: 'full' });
  t.same([...a.thresholds], [...b.thresholds]);
  t.same([...a.methods], [...b.methods]);
  t.equal(a.cosine, b.cosine);
  t.equal(a.evaluations, b.evaluations);
  t.ok(a.meanSuffixShare < 1, `mean share of the graph re-run ${a.meanSuffixShare.toFixed(2)}`);
  t.ok(a.evaluations > 1, `${a.evaluations} candidates`);
});

t.test(
  'a model the scoring threads cannot load is a typed error, and the threads end',
  async (t) => {
    const { pm, heldOut } = await setUp();
    const shards = startScoringShards(pm.outputs, heldOut.length, 2);
    t.teardown(() => shards.release());
    await t.rejects(
      shards.init(Uint8Array.from([1, 2, 3, 4]), pm.input.name, heldOut),
      { code: 'BMF_ERR_MODEL_UNSUPPORTED' },
      'garbage bytes rejected by every thread',
    );
    await shards.release();
    t.pass('released');
  },
);
