// `bmfleet bmrt-test --bmodel FILE [--runtime bmrt|sim] [--loops N] [--onnx SOURCE.onnx] [--json]`:
// what the vendor's bmrt_test prints (load time, per net and stage the tensors and the calculate
// time of each loop) and, beside the measured time, bmfleet's cost-model estimate for the same
// net, chip, precision and batch. The estimate needs the network's graph: a simulator BMODEL
// carries it; for a vendor BMODEL pass the ONNX it was compiled from with --onnx.
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { createSystemClock } from '../../agent/clock.js';
import { openLibsophon } from '../../agent/runtime/bmrt/libsophon.js';
import { libsophonDir } from '../../agent/runtime/bmrt/native.js';
import { createSimSessionPool } from '../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../agent/runtime/sim.js';
import { refuseSimulatorBmodel } from '../../agent/runtime/sim-bmodel.js';
import { estimateLatency, layersFromGraph } from '../../controller/compile/cost/index.js';
import type { CostPrecision } from '../../controller/compile/cost/index.js';
import { loadOnnx } from '../../controller/onnx/codec.js';
import { describeGraph } from '../../controller/onnx/describe.js';
import { formatFloat, readBmodel } from '../../shared/bmodel/index.js';
import type { Bmodel, BmodelDtype } from '../../shared/bmodel/index.js';
import { isSimulatorBmodel, simulatorPayload } from '../../shared/bmodel/simulator.js';
import { bmfError } from '../../shared/errors.js';
import type { Tensor } from '../../shared/tensor.js';
import { parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';

export const USAGE =
  'bmfleet bmrt-test --bmodel FILE [--runtime bmrt|sim] [--loops N] [--onnx SOURCE.onnx] [--json]';

export interface TensorReport {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: BmodelDtype;
  readonly scale: number;
  readonly zeroPoint: number;
}

export type ModeledReport =
  | {
      readonly modeled: true;
      readonly ms: number;
      readonly precision: CostPrecision;
      readonly batch: number;
    }
  | { readonly modeled: true; readonly unavailable: string };

export interface StageReport {
  readonly stage: number;
  readonly inputs: readonly TensorReport[];
  readonly outputs: readonly TensorReport[];
  /** Measured calculate time of each loop (launch to outputs on the host), ms. */
  readonly calculateMs: readonly number[];
  readonly estimate: ModeledReport;
}

export interface BmrtTestReport {
  readonly file: string;
  readonly runtime: 'bmrt' | 'sim';
  readonly version: string;
  readonly chip: string;
  readonly time: string;
  readonly loadMs: number;
  readonly nets: readonly { readonly name: string; readonly stages: readonly StageReport[] }[];
}

interface RunnerNet {
  readonly name: string;
  readonly stages: readonly { inputs: TensorReport[]; outputs: TensorReport[] }[];
}

interface Runner {
  readonly loadMs: number;
  readonly nets: readonly RunnerNet[];
  run(net: RunnerNet, stage: number): Promise<void>;
  close(): Promise<void>;
}

const DTYPE_BYTES: Partial<Record<BmodelDtype, number>> = {
  FP32: 4,
  FP16: 2,
  BF16: 2,
  INT8: 1,
  UINT8: 1,
  INT16: 2,
  UINT16: 2,
  INT32: 4,
  UINT32: 4,
};

async function bmrtRunner(bytes: Uint8Array, dir: string): Promise<Runner> {
  const device = openLibsophon({ dir });
  const start = performance.now();
  const model = await device.load(bytes).catch((e: unknown) => {
    device.close();
    throw e;
  });
  const loadMs = performance.now() - start;
  const nets: RunnerNet[] = model.nets.map((n) => ({
    name: n.name,
    stages: n.stages.map((s) => ({
      inputs: n.inputs.map((t, i) => pick({ ...t, shape: s.inputShapes[i]! })),
      outputs: n.outputs.map((t, i) => pick({ ...t, shape: s.outputShapes[i]! })),
    })),
  }));
  return {
    loadMs,
    nets,
    async run(net, stage) {
      const inputs = net.stages[stage]!.inputs.map((t) => ({
        shape: t.shape,
        bytes: new Uint8Array(count(t.shape) * (DTYPE_BYTES[t.dtype] ?? 1)),
      }));
      await model.infer(net.name, inputs);
    },
    async close() {
      model.unload();
      device.close();
    },
  };
}

async function simRunner(bytes: Uint8Array, bmodel: Bmodel): Promise<Runner> {
  const backend = createSimBackend({
    pool: createSimSessionPool(),
    clock: createSystemClock(),
    timing: 'host',
  });
  const start = performance.now();
  const h = await backend.load(bytes, { digest: 'bmrt-test' });
  const loadMs = performance.now() - start;
  const net = bmodel.nets[0]!;
  const stage = net.stages[0]!;
  const d = backend.describe(h);
  const feeds: Record<string, Tensor> = {};
  for (const i of d.inputs) {
    const n = count(i.shape);
    const data =
      i.dtype === 'float32'
        ? new Float32Array(n)
        : i.dtype === 'int8'
          ? new Int8Array(n)
          : i.dtype === 'uint8'
            ? new Uint8Array(n)
            : i.dtype === 'int32'
              ? new Int32Array(n)
              : i.dtype === 'int64'
                ? new BigInt64Array(n)
                : new Uint16Array(n);
    feeds[i.name] = { dtype: i.dtype, shape: i.shape, data } as Tensor;
  }
  return {
    loadMs,
    nets: [
      {
        name: net.name,
        stages: [{ inputs: stage.inputs.map(pick), outputs: stage.outputs.map(pick) }],
      },
    ],
    async run() {
      await backend.infer(h, feeds);
    },
    close: () => backend.unload(h),
  };
}

function pick(t: TensorReport): TensorReport {
  return {
    name: t.name,
    shape: [...t.shape],
    dtype: t.dtype,
    scale: t.scale,
    zeroPoint: t.zeroPoint,
  };
}

const count = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The precision the device computes in, judged from the net's tensors. */
function precisionOf(stage: { inputs: readonly TensorReport[]; outputs: readonly TensorReport[] }) {
  const dtypes = new Set([...stage.inputs, ...stage.outputs].map((t) => t.dtype));
  if (dtypes.has('INT8') || dtypes.has('UINT8')) return 'int8';
  if (dtypes.has('FP16')) return 'fp16';
  if (dtypes.has('BF16')) return 'bf16';
  return 'fp32';
}

async function estimator(
  graph: Uint8Array | undefined,
  chip: string,
): Promise<(stage: RunnerNet['stages'][number]) => Promise<ModeledReport>> {
  if (!graph) {
    return async () => ({
      modeled: true,
      unavailable: 'no network graph: pass the source ONNX with --onnx',
    });
  }
  const onnx = loadOnnx(graph);
  return async (stage) => {
    const batch = stage.inputs[0]?.shape[0] ?? 1;
    const precision = precisionOf(stage);
    try {
      // The graph at batch 1; the estimate scales to the stage's batch (and 4N groups).
      const shapes = stage.inputs.map((t) => [1, ...t.shape.slice(1)]);
      const nodes = await describeGraph(onnx, shapes);
      const est = estimateLatency(layersFromGraph(nodes), chip.toLowerCase(), precision, {
        batch,
      });
      return { modeled: true, ms: est.totalMs, precision, batch };
    } catch (e) {
      return { modeled: true, unavailable: (e as Error).message };
    }
  };
}

export async function runBmrtTest(options: {
  readonly file: string;
  readonly runtime: 'bmrt' | 'sim';
  readonly loops: number;
  readonly onnx?: string;
  /** libsophon's install folder ($BMFLEET_LIBSOPHON_DIR). */
  readonly libsophonDir: string;
}): Promise<BmrtTestReport> {
  const bytes = new Uint8Array(await readFile(options.file));
  const bmodel = readBmodel(bytes);
  const graph = isSimulatorBmodel(bmodel)
    ? simulatorPayload(bytes, bmodel)
    : options.onnx
      ? new Uint8Array(await readFile(options.onnx))
      : undefined;
  if (options.runtime === 'bmrt') refuseSimulatorBmodel(bmodel);
  const estimate = await estimator(graph, bmodel.chip);
  const runner =
    options.runtime === 'bmrt'
      ? await bmrtRunner(bytes, options.libsophonDir)
      : await simRunner(bytes, bmodel);
  try {
    const nets = [];
    for (const net of runner.nets) {
      const stages: StageReport[] = [];
      for (const [s, stage] of net.stages.entries()) {
        const calculateMs: number[] = [];
        for (let loop = 0; loop < options.loops; loop++) {
          const start = performance.now();
          await runner.run(net, s);
          calculateMs.push(performance.now() - start);
        }
        stages.push({ stage: s, ...stage, calculateMs, estimate: await estimate(stage) });
      }
      nets.push({ name: net.name, stages });
    }
    return {
      file: options.file,
      runtime: options.runtime,
      version: bmodel.version,
      chip: bmodel.chip,
      time: bmodel.time.trim(),
      loadMs: runner.loadMs,
      nets,
    };
  } finally {
    await runner.close();
  }
}

const ms = (x: number): string => x.toFixed(3);

function tensorLine(kind: string, i: number, t: TensorReport): string {
  return `[BMRT]   ${kind} ${i}) '${t.name}' shape=[ ${t.shape.join(' ')} ] dtype=${t.dtype} scale=${formatFloat(t.scale)} zero_point=${t.zeroPoint}\n`;
}

/** The report as bmrt_test lays it out, with the cost-model estimate beside each measurement. */
export function formatBmrtTest(r: BmrtTestReport): string {
  let out = `[BMRT] loading bmodel from [${r.file}] (runtime ${r.runtime})\n`;
  out += `[BMRT] bmodel version ${r.version}, chip ${r.chip}, created ${r.time}\n`;
  out += `[BMRT] load time: ${ms(r.loadMs)} ms\n`;
  r.nets.forEach((net, n) => {
    out += `[BMRT] ########################\n[BMRT] NetName: ${net.name}, Index=${n}\n`;
    for (const s of net.stages) {
      out += `[BMRT] ---- stage ${s.stage} ----\n`;
      s.inputs.forEach((t, i) => (out += tensorLine('Input', i, t)));
      s.outputs.forEach((t, i) => (out += tensorLine('Output', i, t)));
      s.calculateMs.forEach((c, loop) => {
        out += `[BMRT] ==> running network #${n}, name: ${net.name}, stage: ${s.stage}, loop: ${loop}\n`;
        out += `[BMRT] calculate time: ${ms(c)} ms\n`;
      });
      const mean = s.calculateMs.reduce((a, b) => a + b, 0) / Math.max(1, s.calculateMs.length);
      const est =
        'ms' in s.estimate
          ? `${ms(s.estimate.ms)} ms (cost model, ${r.chip} ${s.estimate.precision} batch ${s.estimate.batch}); measured/modeled ${(mean / s.estimate.ms).toFixed(2)}`
          : `n/a (${s.estimate.unavailable})`;
      out += `[BMRT] net[${net.name}] stage[${s.stage}] mean calculate time: ${ms(mean)} ms over ${s.calculateMs.length} loops; modeled: ${est}\n`;
    }
    out += `[BMRT] ########################\n`;
  });
  return out;
}

export const run: CommandRun = async (ctx) => {
  const parsed = parseCommandArgs(
    ctx.argv,
    {
      bmodel: { type: 'string' },
      runtime: { type: 'string', default: 'bmrt' },
      loops: { type: 'string', default: '1' },
      onnx: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    USAGE,
    false,
  );
  const { bmodel, runtime, loops, onnx, json } = parsed.values;
  const n = Number(loops);
  if (
    !bmodel ||
    (runtime !== 'bmrt' && runtime !== 'sim') ||
    !Number.isInteger(n) ||
    n < 1 ||
    n > 100000
  ) {
    throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
  }
  const report = await runBmrtTest({
    file: bmodel,
    runtime,
    loops: n,
    onnx,
    libsophonDir: libsophonDir(ctx.env),
  });
  ctx.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatBmrtTest(report));
  return 0;
};
