// The level rule of the simulator (shared/simulator/graph-level.ts) on the payloads the compiler
// and the quantizer really emit, one case per precision (test/fixtures/simulator), and the op
// scan it relies on against the full ONNX decoder.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { emulateHalfActivations, emulatePrecision } from '../../../controller/compile/index.js';
import { describeGraph, encodeOnnx, loadOnnx } from '../../../controller/onnx/index.js';
import {
  calibrationEntries,
  collectActivationStats,
} from '../../../controller/quantize/calibrate.js';
import { prepareModel } from '../../../controller/quantize/prepared-model.js';
import { buildInt8Graph } from '../../../controller/quantize/qdq.js';
import { onnxOpTypes } from '../../../shared/simulator/onnx-op-types.js';
import { simulatorGraphLevel } from '../../../shared/simulator/graph-level.js';
import { toyInputs, toyModelBytes } from '../../controller/quantize/toy-model.js';

interface LevelCase {
  readonly precision: 'fp32' | 'fp16' | 'bf16' | 'int8' | 'mixed';
  readonly f32Layers?: readonly string[];
  readonly level: string;
}
const { cases } = JSON.parse(
  readFileSync(new URL('../../fixtures/simulator/graph-level-cases.json', import.meta.url), 'utf8'),
) as { cases: LevelCase[] };

async function payloadFor(c: LevelCase): Promise<Uint8Array> {
  const source = toyModelBytes();
  if (c.precision === 'fp32') return source;
  if (c.precision === 'fp16' || c.precision === 'bf16') {
    const model = loadOnnx(source);
    const nodes = await describeGraph(model);
    const half = emulateHalfActivations(model, nodes, c.precision, 'bm1684x').model;
    return encodeOnnx(emulatePrecision(half, c.precision));
  }
  const pm = await prepareModel(source);
  const stats = await collectActivationStats(pm, toyInputs(8));
  const thresholds = new Map(calibrationEntries(stats, 'max').map((e) => [e.name, e.threshold]));
  const precisions = new Map((c.f32Layers ?? []).map((l) => [l, 'F32' as const]));
  return encodeOnnx(buildInt8Graph(pm.model, pm.layers, { thresholds, precisions }).model);
}

for (const c of cases) {
  const name = `${c.precision}${c.f32Layers ? ` (F32: ${c.f32Layers.join(', ')})` : ''}`;
  t.test(`${name} runs at '${c.level}'`, async (t) => {
    const payload = await payloadFor(c);
    t.equal(simulatorGraphLevel(payload), c.level);
    const decoded = new Set((loadOnnx(payload).graph.node ?? []).map((n) => n.opType ?? ''));
    t.same([...onnxOpTypes(payload)].sort(), [...decoded].sort(), 'the scan finds every op type');
  });
}

t.test('a payload that is not ONNX is refused with a typed error', async (t) => {
  const good = toyModelBytes();
  const bad: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['truncated', good.subarray(0, Math.floor(good.length / 2))],
    ['a length past the end', Uint8Array.from([0x3a, 0xff, 0xff, 0x03, 0x01])],
    ['a group wire type', Uint8Array.from([0x3b, 0x00])],
    ['a varint that never ends', new Uint8Array(12).fill(0xff)],
  ];
  for (const [what, bytes] of bad) {
    t.throws(() => simulatorGraphLevel(bytes), { code: 'BMF_ERR_BMODEL_UNSUPPORTED' }, what);
  }
});
