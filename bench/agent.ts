// Agent benchmark (`npm run bench -- agent [rss|overhead|http|swaps|swaps-sim|swaps-bmrt|swap-steps ...]`,
// all parts when none is named; BMFLEET_BENCH_REPEATS runs of the noisy ones, default 3). Prints,
// each against a baseline measured in the same run:
//  1. in-process inference overhead vs a bare onnxruntime-node session, same model, input and
//     session options (MobileNetV2 from examples/mobilenetv2 when available, else the tiny test
//     classifier), with intraOpNumThreads 1 (the agent's setting) and 2 on both sides;
//  2. what the loopback HTTP path adds at p50 (tiny classifier) over the in-process API;
//  3. 100 hot-swaps per run under 200 requests/s (tiny classifiers) on both backends: the
//     simulator, and bmrt on the libsophon emulator with a device load time, so a serving path
//     that waits for a load shows: failed requests, p99 during the swaps vs steady state pooled
//     over interleaved windows and over runs, steady state against itself as the noise floor,
//     the event loop's longest delay and the main thread's CPU and run-queue wait in each kind of
//     window, with the load average and CPU time of every run (swapsUnderLoad);
//  4. the main thread's longest step while a MobileNetV2-sized model is read back from the store
//     and installed (no traffic), against the one-step hash and copy it replaced (largeSwapSteps);
//  5. RSS of an agent process started the way a board runs it (compiled dist/cli/entry.js, real
//     broker, no assignment yet), with node's defaults and with a small young generation, 3 s
//     after ready (start-up's heap) and idle 25 s after ready (idleAgentRss says why both); then
//     this process's RSS with the model loaded vs its size.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { createSystemClock } from '../agent/clock.js';
import { createSimSessionPool } from '../agent/runtime/session-pool.js';
import type { SimSessionPool } from '../agent/runtime/session-pool.js';
import { createSimBackend } from '../agent/runtime/sim.js';
import { BINARY_TENSOR_TYPE } from '../agent/serve/http-body.js';
import { createLocalApi } from '../agent/serve/http.js';
import { createServeMetrics } from '../agent/serve/metrics.js';
import { createInferenceService } from '../agent/serve/service.js';
import type { InferenceService } from '../agent/serve/service.js';
import type { ModelSpec } from '../agent/serve/types.js';
import { parseDigest, type Digest } from '../shared/ids.js';
import type { RuntimeBackend } from '../agent/runtime/types.js';
import { writeBmodel } from '../shared/bmodel/write.js';
import { createBlobStore } from '../agent/store/blob-store.js';
import { locateMobileNetV2 } from '../examples/mobilenetv2/ensure.js';
import { startFakeController } from '../harness/agent/fake-controller.js';
import { deviceBmodel } from '../harness/agent/models.js';
import { signedRoot, testKeys } from '../harness/agent/trust.js';

const mb = (b: number): string => (b / 2 ** 20).toFixed(1);
const sha = (b: Uint8Array): Digest => parseDigest(createHash('sha256').update(b).digest('hex'));

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

function simBmodel(
  onnx: Uint8Array,
  shape: number[],
  outShape: number[],
  chip = 'BM1684X',
): Uint8Array {
  return writeBmodel({
    chip,
    nets: [
      {
        name: 'net',
        stages: [
          {
            inputs: [{ name: 'input', dtype: 'FP32', shape }],
            outputs: [{ name: 'logits', dtype: 'FP32', shape: outShape }],
          },
        ],
      },
    ],
    simulator: { payload: onnx },
  });
}

function spec(name: string, bmodel: Uint8Array): ModelSpec {
  const bundleDigest = sha(new TextEncoder().encode(name));
  return { bundleDigest, version: name, bmodel, bmodelDigest: sha(bmodel) };
}

function newService(intraOpNumThreads = 1): {
  service: InferenceService;
  registry: ReturnType<typeof createServeMetrics>['registry'];
  runtime: RuntimeBackend;
  pool: SimSessionPool;
} {
  const clock = createSystemClock();
  const metrics = createServeMetrics();
  const pool = createSimSessionPool({ intraOpNumThreads });
  const runtime = createSimBackend({ pool, clock, timing: 'host' });
  const service = createInferenceService({ runtime, clock, observers: [metrics.observer] });
  return { service, registry: metrics.registry, runtime, pool };
}

interface Overhead {
  readonly intraOpNumThreads: number;
  readonly bareP50: number;
  readonly runtimeP50: number;
  readonly agentP50: number;
  /** Median over runs of agent/bare measured back to back: less exposed to load drifting. */
  readonly pairedRatio: number;
  readonly rss: number;
}

/**
 * Bare onnxruntime-node session on this thread vs the agent's in-process API (service.infer:
 * route, hop to the session's thread, decode top-k, observers) and vs the runtime alone
 * (backend.infer: the thread hop without the service). Apples to apples: the same session
 * options on both sides (the agent's pool passes these), the same input tensor, which the
 * caller keeps (so the agent copies it once per request, as for any in-process caller).
 */
async function overhead(
  onnx: Uint8Array,
  shape: number[],
  outShape: number[],
  runs: number,
  intraOpNumThreads: number,
): Promise<Overhead> {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
  const bare = await ort.InferenceSession.create(onnx, {
    intraOpNumThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const { service, runtime } = newService(intraOpNumThreads);
  const bmodel = simBmodel(onnx, shape, outShape);
  await service.variants.install('A', spec('m', bmodel));
  const handle = await runtime.load(bmodel, { digest: sha(bmodel) }); // shares A's session
  const feeds = { input: { dtype: 'float32' as const, shape, data } };
  const sides = {
    bare: () => bare.run({ input: new ort.Tensor('float32', data, shape) }),
    runtime: () => runtime.infer(handle, feeds),
    agent: () => service.infer({ kind: 'tensor', feeds }),
  };
  const order = Object.keys(sides) as (keyof typeof sides)[];
  for (let i = 0; i < Math.min(50, runs); i++) for (const k of order) await sides[k]();
  const times = { bare: [] as number[], runtime: [] as number[], agent: [] as number[] };
  const ratios: number[] = [];
  // Interleaved, in alternating order, so load from other processes and whatever runs first
  // (caches, CPU frequency) hit every side alike.
  for (let i = 0; i < runs; i++) {
    for (const k of i % 2 === 0 ? order : [...order].reverse()) {
      const t0 = performance.now();
      await sides[k]();
      times[k].push(performance.now() - t0);
    }
    ratios.push((times.agent[i] ?? NaN) / (times.bare[i] ?? NaN));
  }
  const rss = process.memoryUsage().rss;
  await runtime.unload(handle);
  await service.close();
  await bare.release();
  return {
    intraOpNumThreads,
    bareP50: quantile(times.bare, 0.5),
    runtimeP50: quantile(times.runtime, 0.5),
    agentP50: quantile(times.agent, 0.5),
    pairedRatio: quantile(ratios, 0.5),
    rss,
  };
}

interface HttpFigures {
  readonly inproc: number;
  readonly bodies: readonly { readonly label: string; readonly p50: number }[];
}

/** A model to serve over HTTP: its runtime, its bundle and its one FP32 input's shape. */
interface HttpSetup {
  readonly label: string;
  readonly runtime: RuntimeBackend;
  readonly spec: ModelSpec;
  readonly shape: readonly number[];
  readonly runs: number;
  readonly close: () => Promise<void>;
}

/** POSTs with node:http on one kept-alive socket: the client's own cost apart from fetch's. */
function nodeHttpPost(agent: Agent, url: URL, body: Uint8Array | string, type: string) {
  return new Promise<unknown>((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: '/v1/infer',
        method: 'POST',
        agent,
        headers: { 'content-type': type, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * What the loopback HTTP path adds over the in-process API, per body (a JSON tensor, the same
 * tensor as raw bytes) and client (fetch, node:http with keep-alive), all interleaved with the
 * in-process calls so machine load hits every side alike.
 */
async function httpAdded(setup: HttpSetup): Promise<HttpFigures> {
  const clock = createSystemClock();
  const metrics = createServeMetrics();
  const service = createInferenceService({
    runtime: setup.runtime,
    clock,
    observers: [metrics.observer],
  });
  await service.variants.install('A', setup.spec);
  const app = await createLocalApi({ service, registry: metrics.registry });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const url = new URL(address);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const shape = [...setup.shape];
  const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) =>
    Math.sin(i),
  );
  const feeds = { input: { dtype: 'float32' as const, shape, data: values } };
  const json = JSON.stringify({
    inputs: { input: { dtype: 'float32', shape, data: Array.from(values) } },
  });
  const raw = new Uint8Array(values.buffer);
  const rawType = `${BINARY_TENSOR_TYPE}; name=input; dtype=float32; shape=${shape.join(',')}`;
  const viaFetch = (body: Uint8Array | string, type: string) => () =>
    fetch(`${address}/v1/infer`, { method: 'POST', body, headers: { 'content-type': type } }).then(
      (r) => r.json(),
    );
  const kinds: { label: string; post: () => Promise<unknown> }[] = [
    { label: 'JSON tensor, fetch', post: viaFetch(json, 'application/json') },
    { label: 'raw tensor, fetch', post: viaFetch(raw, rawType) },
    {
      label: 'JSON tensor, node:http',
      post: () => nodeHttpPost(agent, url, json, 'application/json'),
    },
    { label: 'raw tensor, node:http', post: () => nodeHttpPost(agent, url, raw, rawType) },
  ];
  for (let i = 0; i < Math.min(200, setup.runs); i++) for (const k of kinds) await k.post();
  const times = kinds.map(() => [] as number[]);
  const p: number[] = [];
  for (let i = 0; i < setup.runs; i++) {
    for (const [j, k] of kinds.entries()) {
      const t0 = performance.now();
      await k.post();
      times[j]!.push(performance.now() - t0);
    }
    const t0 = performance.now();
    await service.infer({ kind: 'tensor', feeds });
    p.push(performance.now() - t0);
  }
  agent.destroy();
  await app.close();
  await service.close();
  await setup.close();
  return {
    inproc: quantile(p, 0.5),
    bodies: kinds.map((k, j) => ({ label: k.label, p50: quantile(times[j]!, 0.5) })),
  };
}

function tinyHttpSetup(tiny: Uint8Array): HttpSetup {
  const { runtime } = newService();
  return {
    label: 'tiny classifier (sim), input 1x3x8x8',
    runtime,
    spec: spec('t', simBmodel(tiny, [1, 3, 8, 8], [1, 4])),
    shape: [1, 3, 8, 8],
    runs: 1000,
    close: async () => undefined,
  };
}

/** A 1x3x224x224 -> 1x1000 classifier on the emulator with no device time: the body's cost. */
async function largeHttpSetup(): Promise<HttpSetup | { reason: string }> {
  try {
    const { openLibsophon } = await import('../agent/runtime/bmrt/libsophon.js');
    const { createBmrtBackend } = await import('../agent/runtime/bmrt/backend.js');
    delete process.env.BMFLEET_EMULATOR_LAUNCH_MS;
    const device = openLibsophon({ dir: EMULATOR_DIR });
    const runtime = createBmrtBackend({ device, clock: createSystemClock(), timing: 'host' });
    const bmodel = deviceBmodel({
      input: [1, 3, 224, 224],
      output: [1, 1000],
      ctxSize: 1 << 20,
    });
    return {
      label:
        'classifier-shaped net (bmrt on the libsophon emulator, 0 ms device time), input 1x3x224x224',
      runtime,
      spec: spec('l', bmodel),
      shape: [1, 3, 224, 224],
      runs: 200,
      close: () => runtime.close(),
    };
  } catch (e) {
    return {
      reason: `${(e as Error).message} (npm run build:libsophon-emulator && npm run build:sophon)`,
    };
  }
}

interface LargeSwapSteps {
  readonly modelMiB: number;
  /** The event loop's longest delay while the store reads the blob back (and hashes it). */
  readonly readBackMs: number;
  /** The same during the install: bytes to the session's thread, load, warm-up, switch. */
  readonly installMs: number;
  /** The one-step work those replaced, timed here on the same bytes. */
  readonly oneStepHashMs: number;
  readonly oneStepCopyMs: number;
}

function timed(f: () => unknown): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

/**
 * A hot-swap of a MobileNetV2-sized simulator BMODEL with no traffic: its blob read back from
 * the agent's store (hashed again) and installed beside the serving model. What matters is the
 * longest step the main thread takes, against the one-step hash and copy of the same bytes. On
 * a loaded machine waiting for a core adds to every figure and never takes away, so the least
 * over repeated runs is the one to read.
 */
async function largeSwapSteps(onnx: Uint8Array): Promise<LargeSwapSteps> {
  const shape = [1, 3, 224, 224];
  const a = simBmodel(onnx, shape, [1, 1000]);
  const b = simBmodel(onnx, shape, [1, 1000], 'BM1684'); // other bytes, same payload
  const dir = await mkdtemp(join(tmpdir(), 'bmf-bench-swap-'));
  const { service } = newService();
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  try {
    const store = await createBlobStore(dir);
    const digest = await store.put(b);
    await service.variants.install('A', spec('a', a));
    await new Promise((r) => setTimeout(r, 50));
    loopDelay.reset();
    const bytes = await store.read(digest);
    const readBackMs = loopDelay.max / 1e6;
    loopDelay.reset();
    await service.variants.install('A', spec('b', bytes));
    const installMs = loopDelay.max / 1e6;
    const oneStepHashMs = timed(() => createHash('sha256').update(bytes).digest());
    const oneStepCopyMs = timed(() => new Uint8Array(new ArrayBuffer(onnx.byteLength)).set(onnx));
    return {
      modelMiB: b.byteLength / 2 ** 20,
      readBackMs,
      installMs,
      oneStepHashMs,
      oneStepCopyMs,
    };
  } finally {
    loopDelay.disable();
    await service.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** One backend's side of the swap measurement: its runtime and two models of the same shape. */
interface SwapSetup {
  readonly label: string;
  readonly runtime: RuntimeBackend;
  readonly specs: readonly [ModelSpec, ModelSpec];
  /** Resolves once the runtime has settled after the first install (the sim's standby thread). */
  readonly settled: () => Promise<void>;
  readonly close: () => Promise<void>;
}

/** One window of the swap measurement: steady state, or a run of swaps 50 ms apart. */
interface SwapWindow {
  readonly kind: 'steady' | 'swap';
  /** Latencies (ms) of the requests sent in this window, from when each was due. */
  readonly latencies: readonly number[];
  /** The event loop's longest delay in the window (perf_hooks monitorEventLoopDelay). */
  readonly loopDelayMaxMs: number;
  /**
   * The main thread's CPU time and run-queue wait in the window (Linux schedstat; the kernel
   * brings them up to date at scheduler ticks, so they are good over a window, not per ms).
   */
  readonly mainCpuMs: number;
  readonly mainWaitMs: number;
  /** CPU time of the whole process (every thread) in the window. */
  readonly processCpuMs: number;
  readonly durationMs: number;
}

interface SwapRun {
  readonly failed: number;
  readonly swaps: number;
  readonly elapsedMs: number;
  readonly windows: readonly SwapWindow[];
  /** 1-minute load average at the start and end of the run; this process's CPU time in it. */
  readonly loadAvg: readonly [number, number];
  readonly cpuMs: number;
}

/** Swap windows per run, swaps per window, and the pause between two swaps. */
const SWAP_BLOCKS = Number(process.env.BMFLEET_BENCH_SWAP_BLOCKS ?? 20);
const SWAPS_PER_WINDOW = 5;
const SWAP_PAUSE_MS = 50;
const STEADY_WINDOW_MS = 300;

/** The main thread's schedstat, opened once: re-read at offset 0 it is the current figure. */
const SCHEDSTAT = (() => {
  try {
    return { fd: openSync('/proc/thread-self/schedstat', 'r'), buf: Buffer.alloc(96) };
  } catch {
    return undefined; // not Linux
  }
})();

/** The main thread's CPU time and run-queue wait (ns), or undefined off Linux. */
function threadSchedstat(): { runNs: number; waitNs: number } | undefined {
  if (!SCHEDSTAT) return undefined;
  const n = readSync(SCHEDSTAT.fd, SCHEDSTAT.buf, 0, SCHEDSTAT.buf.length, 0);
  const [run, wait] = SCHEDSTAT.buf.toString('latin1', 0, n).split(' ');
  return { runNs: Number(run), waitNs: Number(wait) };
}

/**
 * Open-loop load at 200 requests/s on variant A; after a 1 s warm-up, SWAP_BLOCKS pairs of a
 * steady window (300 ms) and a swap window (5 swaps 50 ms apart), in the order steady-swap,
 * swap-steady, ... so load that drifts (other processes on 2 cores) hits both kinds alike. A
 * request counts for the window in which it was due. Steady windows are also split by parity:
 * odd against even is steady state against itself, the noise floor of the swap ratio.
 */
async function swapsUnderLoad(setup: SwapSetup): Promise<SwapRun> {
  const clock = createSystemClock();
  const metrics = createServeMetrics();
  const service = createInferenceService({
    runtime: setup.runtime,
    clock,
    observers: [metrics.observer],
  });
  const [first, second] = setup.specs;
  await service.variants.install('A', first);
  await setup.settled();
  const input = setup.runtime.describe(service.variants.slot('A')!.current()!.handle).inputs[0]!;
  const feeds = {
    [input.name]: {
      dtype: 'float32' as const,
      shape: [...input.shape],
      data: new Float32Array(input.shape.reduce((a, b) => a * b, 1)),
    },
  };
  let failed = 0;
  let window: number[] | undefined;
  let stop = false;
  // Open loop: a request is due every 5 ms whether or not the last one finished. Its latency
  // runs from when it was due, as a client on another thread would see it: a stall of the
  // event loop before the request is sent counts too (no coordinated omission).
  const load = (async () => {
    const pending: Promise<void>[] = [];
    const start = performance.now();
    for (let i = 0; !stop; i++) {
      const due = start + i * 5;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const into = window;
      pending.push(
        service.infer({ kind: 'tensor', feeds }).then(
          () => void into?.push(performance.now() - due),
          () => void (failed += 1),
        ),
      );
    }
    await Promise.all(pending);
  })();
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  await new Promise((r) => setTimeout(r, 1000));
  const loadStart = loadavg()[0]!;
  const cpuStart = process.cpuUsage();
  const t0 = performance.now();
  const windows: SwapWindow[] = [];
  let swaps = 0;
  const measure = async (kind: SwapWindow['kind'], body: () => Promise<void>) => {
    const latencies: number[] = [];
    const sched = threadSchedstat();
    const cpu = process.cpuUsage();
    const start = performance.now();
    loopDelay.reset();
    window = latencies;
    await body();
    window = undefined;
    const end = threadSchedstat();
    const used = process.cpuUsage(cpu);
    windows.push({
      kind,
      latencies,
      loopDelayMaxMs: loopDelay.max / 1e6,
      mainCpuMs: sched && end ? (end.runNs - sched.runNs) / 1e6 : NaN,
      mainWaitMs: sched && end ? (end.waitNs - sched.waitNs) / 1e6 : NaN,
      processCpuMs: (used.user + used.system) / 1000,
      durationMs: performance.now() - start,
    });
  };
  const steady = () => measure('steady', () => new Promise((r) => setTimeout(r, STEADY_WINDOW_MS)));
  const swapWindow = () =>
    measure('swap', async () => {
      for (let i = 0; i < SWAPS_PER_WINDOW; i++) {
        swaps++;
        await service.variants.install('A', swaps % 2 === 0 ? first : second);
        await new Promise((r) => setTimeout(r, SWAP_PAUSE_MS));
      }
    });
  for (let block = 0; block < SWAP_BLOCKS; block++) {
    if (block % 2 === 0) {
      await steady();
      await swapWindow();
    } else {
      await swapWindow();
      await steady();
    }
  }
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpuStart);
  const loadEnd = loadavg()[0]!;
  loopDelay.disable();
  stop = true;
  await load;
  await service.close();
  await setup.close();
  return {
    failed,
    swaps,
    elapsedMs,
    windows,
    loadAvg: [loadStart, loadEnd],
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

function swapLine(what: string, runs: readonly SwapRun[]): string {
  const windows = runs.flatMap((r) => r.windows);
  const of = (kind: SwapWindow['kind']) => windows.filter((w) => w.kind === kind);
  const lat = (ws: readonly SwapWindow[]) => ws.flatMap((w) => w.latencies);
  const steadyWindows = of('steady');
  const steady = lat(steadyWindows);
  const during = lat(of('swap'));
  const p99 = { steady: quantile(steady, 0.99), during: quantile(during, 0.99) };
  // Steady windows by parity: the 1st, 3rd, ... against the 2nd, 4th, ... of each run.
  const parity = (p: number) =>
    lat(
      runs.flatMap((r) =>
        r.windows.filter((w) => w.kind === 'steady').filter((_, i) => i % 2 === p),
      ),
    );
  const floor = quantile(parity(1), 0.99) / quantile(parity(0), 0.99);
  const loop = (ws: readonly SwapWindow[]) => Math.max(...ws.map((w) => w.loopDelayMaxMs));
  // Main thread's CPU and run-queue wait per second of window: what the swaps add to this
  // thread's own work, and how much longer it waited for a core.
  const perSecond = (ws: readonly SwapWindow[], k: 'mainCpuMs' | 'mainWaitMs' | 'processCpuMs') =>
    (sum(ws.map((w) => w[k])) / sum(ws.map((w) => w.durationMs))) * 1000;
  const failed = sum(runs.map((r) => r.failed));
  const swaps = sum(runs.map((r) => r.swaps));
  return (
    `${what}: ${swaps} swaps, ${failed} failed requests; p99 steady ${p99.steady.toFixed(3)} ms (${steady.length} requests), ` +
    `during swaps ${p99.during.toFixed(3)} ms (${during.length}): ${(p99.during / p99.steady).toFixed(2)}x ` +
    `(noise floor, steady vs steady: ${floor.toFixed(2)}x); event loop's longest delay steady ${loop(steadyWindows).toFixed(1)} ms, ` +
    `during swaps ${loop(of('swap')).toFixed(1)} ms; main thread CPU ${perSecond(steadyWindows, 'mainCpuMs').toFixed(0)} / ${perSecond(of('swap'), 'mainCpuMs').toFixed(0)} ms/s, ` +
    `run-queue wait ${perSecond(steadyWindows, 'mainWaitMs').toFixed(0)} / ${perSecond(of('swap'), 'mainWaitMs').toFixed(0)} ms/s, ` +
    `process CPU (all threads) ${perSecond(steadyWindows, 'processCpuMs').toFixed(0)} / ${perSecond(of('swap'), 'processCpuMs').toFixed(0)} ms/s (steady / swaps)`
  );
}

function runConditions(run: SwapRun): string {
  return (
    `${(run.elapsedMs / 1000).toFixed(1)} s wall, ${(run.cpuMs / 1000).toFixed(1)} s CPU, ` +
    `load average ${run.loadAvg[0].toFixed(2)} -> ${run.loadAvg[1].toFixed(2)}`
  );
}

async function waitUntil(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}

function simSwapSetup(a: Uint8Array, b: Uint8Array): SwapSetup {
  const { runtime, pool } = newService();
  return {
    label: 'sim (tiny classifiers, onnxruntime on worker threads)',
    runtime,
    specs: [
      spec('a', simBmodel(a, [1, 3, 8, 8], [1, 4])),
      spec('b', simBmodel(b, [1, 3, 8, 8], [1, 4])),
    ],
    // The pool starts its standby thread once it has been quiet a while after the first load,
    // as an agent's does after its first install.
    settled: () => waitUntil(() => pool.threads().spare > 0),
    close: async () => undefined,
  };
}

const EMULATOR_DIR = fileURLToPath(new URL('../build/libsophon-emulator/', import.meta.url));
/** Device time the emulator spends per BMODEL load and per launch during the swap measurement. */
const EMULATOR_LOAD_MS = 100;
const EMULATOR_LAUNCH_MS = 1;

/** bmrt on the libsophon emulator, or why not (not built). */
async function bmrtSwapSetup(): Promise<SwapSetup | { reason: string }> {
  try {
    const { openLibsophon } = await import('../agent/runtime/bmrt/libsophon.js');
    const { createBmrtBackend } = await import('../agent/runtime/bmrt/backend.js');
    process.env.BMFLEET_EMULATOR_LOAD_MS = String(EMULATOR_LOAD_MS);
    process.env.BMFLEET_EMULATOR_LAUNCH_MS = String(EMULATOR_LAUNCH_MS);
    const device = openLibsophon({ dir: EMULATOR_DIR });
    const runtime = createBmrtBackend({ device, clock: createSystemClock(), timing: 'host' });
    const [a, b] = [deviceBmodel({ seed: 1 }), deviceBmodel({ seed: 2 })];
    return {
      label: `bmrt on the libsophon emulator (load ${EMULATOR_LOAD_MS} ms, launch ${EMULATOR_LAUNCH_MS} ms)`,
      runtime,
      specs: [spec('a', a), spec('b', b)],
      settled: async () => undefined,
      close: async () => {
        await runtime.close();
        delete process.env.BMFLEET_EMULATOR_LOAD_MS;
        delete process.env.BMFLEET_EMULATOR_LAUNCH_MS;
      },
    };
  } catch (e) {
    return {
      reason: `${(e as Error).message} (npm run build:libsophon-emulator && npm run build:sophon)`,
    };
  }
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The agent's entry as a board runs it: compiled by `npm run build`; tsx only as a fallback. */
function agentCommand(): { args: string[]; what: string } {
  const built = join(ROOT, 'dist', 'cli', 'entry.js');
  if (existsSync(built)) return { args: [built], what: 'dist/cli/entry.js' };
  return {
    args: ['--import', 'tsx', join(ROOT, 'cli', 'entry.ts')],
    what: 'cli/entry.ts under tsx (no dist/: run `npm run build` for the board figure)',
  };
}

interface IdleRss {
  /** 3 s after ready: start-up's heap, before V8 has given any of it back. */
  readonly startup: number;
  /** Idle: the highest RSS from 20 to 25 s after ready. */
  readonly idle: number;
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) * 1024;
}

/**
 * V8 grows the young generation for start-up's burst of allocation (to 8-16 MB a semi-space) and
 * gives it back only when its memory reducer runs: 8 s after a full GC
 * (--gc-memory-reducer-start-delay-ms), and again every 8 s until allocation is low. A sample 3 s
 * after ready is therefore start-up's heap, not the idle agent's; the idle figure is taken once
 * the reducer has had three turns. Both are printed; an agent whose heap never shrinks shows the
 * same figure twice.
 */
async function idleAgentRss(nodeFlags: readonly string[]): Promise<IdleRss> {
  const controller = await startFakeController();
  const dir = await mkdtemp(join(tmpdir(), 'bmf-bench-agent-'));
  try {
    await writeFile(join(dir, 'root.json'), JSON.stringify(signedRoot(testKeys())));
    await writeFile(
      join(dir, 'agent.json'),
      JSON.stringify({
        deviceId: 'bench-rss',
        chip: 'bm1684x',
        broker: { url: controller.url, protocolVersion: 4 },
        stateDir: join(dir, 'state'),
        rootFile: join(dir, 'root.json'),
        runtime: 'sim',
        api: { port: 0 },
      }),
    );
    const child = spawn(
      process.execPath,
      [...nodeFlags, ...agentCommand().args, 'agent', '--config', join(dir, 'agent.json')],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => void (String(d).includes(' ready') && resolve()));
        child.once('exit', (code) => reject(new Error(`agent exited (${code}) before ready`)));
      });
      // Connected, API listening, first reconcile done; then one sample a second.
      const pid = child.pid as number;
      const samples: number[] = [];
      for (let s = 0; s <= 25; s++) {
        if (s > 0) await new Promise((r) => setTimeout(r, 1000));
        samples.push(await rssOf(pid));
      }
      return { startup: samples[3] ?? NaN, idle: Math.max(...samples.slice(20)) };
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  } finally {
    await controller.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const PARTS = ['rss', 'overhead', 'http', 'swaps-sim', 'swaps-bmrt', 'swap-steps'] as const;
type Part = (typeof PARTS)[number];

/** `npm run bench -- agent [part ...]`: every part when none is named; `swaps` is both backends. */
function partsToRun(argv: readonly string[]): ReadonlySet<Part> {
  const args = argv.flatMap((a) => (a === 'swaps' ? ['swaps-sim', 'swaps-bmrt'] : [a]));
  const unknown = args.filter((a) => !(PARTS as readonly string[]).includes(a));
  if (unknown.length > 0) {
    throw new Error(`unknown part ${unknown.join(', ')}; parts: ${PARTS.join(', ')}`);
  }
  return new Set(args.length > 0 ? (args as Part[]) : PARTS);
}

/** Noisy figures are measured this many times and every run is printed. */
const REPEATS = Number(process.env.BMFLEET_BENCH_REPEATS ?? 3);

export async function run(): Promise<void> {
  const parts = partsToRun(process.argv.slice(3));
  const rssEmpty = process.memoryUsage().rss;
  const tiny = readFileSync(new URL('../test/fixtures/agent/tiny-a.onnx', import.meta.url));
  const tinyB = readFileSync(new URL('../test/fixtures/agent/tiny-b.onnx', import.meta.url));

  if (parts.has('rss')) {
    const defaults = await idleAgentRss([]);
    const small = await idleAgentRss(['--max-semi-space-size=1']);
    console.log(
      `agent RSS with no model loaded (${agentCommand().what}, connected, API up), idle (20-25 s after ready) / 3 s after ready: ` +
        `node defaults ${mb(defaults.idle)} / ${mb(defaults.startup)} MB; ` +
        `node --max-semi-space-size=1 (the board launcher's) ${mb(small.idle)} / ${mb(small.startup)} MB (target idle <= 80 MB)`,
    );
  }
  if (parts.has('overhead')) await printOverhead(tiny, rssEmpty);
  if (parts.has('http')) {
    console.log(
      `HTTP loopback: p50 per body and client against the in-process p50, interleaved (target: adds <= 1 ms, the tiny classifier's JSON tensor with fetch):`,
    );
    const httpSetups = [async () => tinyHttpSetup(tiny), largeHttpSetup];
    for (const make of httpSetups) {
      for (let r = 1; r <= REPEATS; r++) {
        const setup = await make();
        if ('reason' in setup) {
          console.log(`  1x3x224x224 input: not measured: ${setup.reason}`);
          break;
        }
        const label = setup.label;
        const h = await httpAdded(setup);
        console.log(
          `  ${label}, run ${r}: in-process ${h.inproc.toFixed(3)} ms; ` +
            h.bodies
              .map(
                (b) =>
                  `${b.label} ${b.p50.toFixed(3)} ms (adds ${(b.p50 - h.inproc).toFixed(3)} ms)`,
              )
              .join('; '),
        );
      }
    }
  }
  if (parts.has('swap-steps')) await printLargeSwapSteps();
  const setups: [string, () => Promise<SwapSetup | { reason: string }>][] = [];
  if (parts.has('swaps-sim')) setups.push(['sim', async () => simSwapSetup(tiny, tinyB)]);
  if (parts.has('swaps-bmrt')) setups.push(['bmrt', bmrtSwapSetup]);
  if (setups.length > 0) {
    console.log(
      `${SWAP_BLOCKS * SWAPS_PER_WINDOW} hot-swaps under 200 req/s per run: ${SWAP_BLOCKS} windows of ${SWAPS_PER_WINDOW} swaps ${SWAP_PAUSE_MS} ms apart interleaved with ${STEADY_WINDOW_MS} ms steady windows; p99 pooled over all windows (targets: 0 failed requests, p99 during swaps <= 1.5x steady p99)`,
    );
    for (const [name, make] of setups) {
      const runs: SwapRun[] = [];
      let label = name;
      for (let r = 1; r <= REPEATS; r++) {
        const setup = await make();
        if ('reason' in setup) {
          console.log(`  ${name}: not measured: ${setup.reason}`);
          break;
        }
        label = setup.label;
        const run = await swapsUnderLoad(setup);
        runs.push(run);
        console.log(`  ${swapLine(`${label}, run ${r} (${runConditions(run)})`, [run])}`);
      }
      if (runs.length > 1)
        console.log(`  ${swapLine(`${label}, ${runs.length} runs pooled`, runs)}`);
    }
  }
}

async function printLargeSwapSteps(): Promise<void> {
  const mobile = await locateMobileNetV2();
  if (!mobile.path) {
    console.log(
      `large-model swap steps: not measured: ${'reason' in mobile ? mobile.reason : '?'}`,
    );
    return;
  }
  const onnx = readFileSync(mobile.path);
  console.log(
    `hot-swap of a MobileNetV2 simulator BMODEL, no traffic: the event loop's longest delay in each step against the one-step work it replaced; the least over ${REPEATS} runs is the figure (target: no step > ~2 ms):`,
  );
  const runs: LargeSwapSteps[] = [];
  for (let r = 1; r <= REPEATS; r++) {
    const load = loadavg()[0]!;
    const s = await largeSwapSteps(onnx);
    runs.push(s);
    console.log(`  run ${r} (load average ${load.toFixed(2)}): ${largeStepsLine(s)}`);
  }
  const least = (k: keyof LargeSwapSteps) => Math.min(...runs.map((s) => s[k]));
  console.log(
    `  least over runs: ${largeStepsLine({
      modelMiB: least('modelMiB'),
      readBackMs: least('readBackMs'),
      installMs: least('installMs'),
      oneStepHashMs: least('oneStepHashMs'),
      oneStepCopyMs: least('oneStepCopyMs'),
    })}`,
  );
}

function largeStepsLine(s: LargeSwapSteps): string {
  return (
    `${s.modelMiB.toFixed(1)} MiB: store read-back ${s.readBackMs.toFixed(2)} ms (one-step sha256 ${s.oneStepHashMs.toFixed(2)} ms); ` +
    `install ${s.installMs.toFixed(2)} ms (one-step copy of the payload ${s.oneStepCopyMs.toFixed(2)} ms)`
  );
}

async function printOverhead(tiny: Uint8Array, rssEmpty: number): Promise<void> {
  const mobile = await locateMobileNetV2();
  const model = mobile.path
    ? {
        name: 'MobileNetV2 (examples/mobilenetv2, 1x3x224x224)',
        onnx: readFileSync(mobile.path),
        shape: [1, 3, 224, 224],
        out: [1, 1000],
        runs: 200,
      }
    : {
        name: `tiny classifier (MobileNetV2 unavailable: ${'reason' in mobile ? mobile.reason : '?'})`,
        onnx: tiny,
        shape: [1, 3, 8, 8],
        out: [1, 4],
        runs: 3000,
      };
  // intraOpNumThreads 1 is what the agent's pool uses (many agents per process, 2-core boards);
  // 2 is measured too, on both sides alike, to show what onnxruntime's own pool does here.
  const figures: Overhead[] = [];
  for (const threads of [1, 2]) {
    figures.push(await overhead(model.onnx, model.shape, model.out, model.runs, threads));
  }
  console.log(`model: ${model.name}, batch 1, ${model.runs} interleaved runs per setting`);
  for (const o of figures) {
    console.log(
      `  intraOpNumThreads ${o.intraOpNumThreads} (both sides): bare onnxruntime p50 ${o.bareP50.toFixed(3)} ms, ` +
        `runtime alone p50 ${o.runtimeP50.toFixed(3)} ms (${(o.runtimeP50 / o.bareP50).toFixed(3)}x), ` +
        `agent in-process p50 ${o.agentP50.toFixed(3)} ms`,
    );
    console.log(
      `    ratio ${(o.agentP50 / o.bareP50).toFixed(3)}x, median paired ratio ${o.pairedRatio.toFixed(3)}x` +
        (o.intraOpNumThreads === 1 ? ' (target <= 1.10x)' : ''),
    );
  }
  const o = figures[0] as Overhead;
  console.log(
    `  RSS with the model loaded ${mb(o.rss)} MB for a ${mb(model.onnx.length)} MB model (+${mb(o.rss - rssEmpty)} MB over this bench process, which also holds a bare session)`,
  );
}
