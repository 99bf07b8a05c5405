// The simulator runs an INT8 (QDQ) payload with its Q/DQ unfused (shared/simulator/graph-level.ts),
// so a simulated board gives the same numbers on every x86 host: here they must equal the graph
// run exactly as written (onnxruntime with no optimization at all), the reference for "unfused".
import t from 'tap';
import { createSystemClock } from '../../../agent/clock.js';
import { createSimSessionPool } from '../../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../../agent/runtime/sim.js';
import { createOnnxSession, type OnnxSessionOptions } from '../../../controller/onnx/index.js';
import {
  calibrationEntries,
  collectActivationStats,
} from '../../../controller/quantize/calibrate.js';
import { int8BmodelBytes } from '../../../controller/quantize/int8-bmodel.js';
import { prepareModel } from '../../../controller/quantize/prepared-model.js';
import { buildInt8Graph } from '../../../controller/quantize/qdq.js';
import { cosineSimilarity } from '../../../shared/stats/similarity.js';
import { sha256 } from '../../../harness/agent/models.js';
import { toyInputs, toyModelBytes } from '../../controller/quantize/toy-model.js';

// Same kernels on the same values: only FP32 summation order may differ, far below one output
// quantization step. Tolerance: 1e-5 of the largest |logit|.
const RELATIVE_TOLERANCE = 1e-5;

async function runPayload(
  payload: Uint8Array,
  options: OnnxSessionOptions,
  inputs = toyInputs(20),
) {
  const s = await createOnnxSession(payload, { intraOpNumThreads: 1, ...options });
  try {
    const out: Float32Array[] = [];
    for (const x of inputs) out.push((await s.run({ input: x })).logits!.data as Float32Array);
    return out;
  } finally {
    await s.release();
  }
}

t.test('simulated INT8 output equals the unfused QDQ graph', async (t) => {
  const pm = await prepareModel(toyModelBytes());
  const stats = await collectActivationStats(pm, toyInputs(8));
  const thresholds = new Map(calibrationEntries(stats, 'max').map((e) => [e.name, e.threshold]));
  const int8 = buildInt8Graph(pm.model, pm.layers, { thresholds });
  const { bmodel, payload } = await int8BmodelBytes(pm, int8, { chip: 'bm1684x', netName: 'toy' });

  const reference = await runPayload(payload, { graphOptimizationLevel: 'disabled' });
  const backend = createSimBackend({
    pool: createSimSessionPool({ spareThreads: 0 }),
    clock: createSystemClock(),
    timing: 'host',
  });
  const h = await backend.load(bmodel, { digest: sha256(bmodel) });
  t.teardown(() => backend.unload(h));
  const inputs = toyInputs(20);
  for (const [k, x] of inputs.entries()) {
    const got = (await backend.infer(h, { input: x })).outputs.logits?.data as Float32Array;
    const want = reference[k]!;
    const scale = Math.max(...want.map(Math.abs));
    const worst = Math.max(...want.map((v, i) => Math.abs(v - (got[i] ?? NaN))));
    t.ok(worst <= RELATIVE_TOLERANCE * scale, `image ${k}: max |diff| ${worst} <= 1e-5 x ${scale}`);
  }

  // What the fused kernels give on this host, for the record (it depends on the CPU: not asserted).
  const fused = await runPayload(payload, { graphOptimizationLevel: 'all' });
  const cosines = fused.map((f, k) => cosineSimilarity(reference[k]!, f));
  t.comment(`fused ('all') vs unfused on this host: min cosine ${Math.min(...cosines).toFixed(4)}`);
});
