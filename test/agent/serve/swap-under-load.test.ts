// Hot-swaps under load fail no request, and a swap does its heavy work off the event loop, as far
// as that can be checked without a clock: on the simulator no onnxruntime session is ever created
// on this thread (each lives on its own thread) and the model's bytes reach that thread in slices
// with an event-loop turn between them; on bmrt the BMODEL is loaded and the old one unloaded
// through the binding's asynchronous calls, never its synchronous unload (bmrt_destroy waits for
// the device). The figures (p99 during swaps against steady state) are bench/agent.ts's.
import { setImmediate as nextTurn } from 'node:timers/promises';
import * as ort from 'onnxruntime-node';
import t from 'tap';
import { createSystemClock } from '../../../agent/clock.js';
import { createBmrtBackend } from '../../../agent/runtime/bmrt/backend.js';
import { openLibsophon } from '../../../agent/runtime/bmrt/libsophon.js';
import { loadSophonAddon } from '../../../agent/runtime/bmrt/native.js';
import type { NativeDevice, NativeModel, SophonAddon } from '../../../agent/runtime/bmrt/native.js';
import { createSimSessionPool } from '../../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../../agent/runtime/sim.js';
import type { RuntimeBackend } from '../../../agent/runtime/types.js';
import { createInferenceService } from '../../../agent/serve/service.js';
import type { ModelSpec } from '../../../agent/serve/types.js';
import type { Tensor } from '../../../shared/tensor.js';
import {
  deviceBmodel,
  goldenInputs,
  sha256,
  tinyBundleDigest,
  tinyOnnx,
  tinySpec,
} from '../../../harness/agent/models.js';
import { waitFor } from '../../../harness/wait.js';
import { BINDING_PATH, EMULATOR_DIR, bindingSkip } from '../../native/libsophon-fixtures.js';

const SWAPS = 12;
const CLIENTS = 4;

interface LoadResult {
  readonly ok: number;
  readonly failed: readonly string[];
  readonly answeredBy: ReadonlySet<string>;
  /** Swaps during which at least one request was answered. */
  readonly overlapped: number;
}

/**
 * CLIENTS closed-loop clients send requests while SWAPS hot-swaps alternate between two specs.
 * Each swap waits until a request has been answered after it started, or until it is done: no
 * clock anywhere.
 */
async function swapUnderLoad(
  runtime: RuntimeBackend,
  specs: readonly [ModelSpec, ModelSpec],
  feeds: Readonly<Record<string, Tensor>>,
): Promise<LoadResult> {
  const service = createInferenceService({ runtime, clock: createSystemClock(), observers: [] });
  try {
    await service.variants.install('A', specs[0], { knownGood: true });
    let ok = 0;
    const failed: string[] = [];
    const answeredBy = new Set<string>();
    let stop = false;
    const client = async () => {
      while (!stop) {
        try {
          const r = await service.infer({ kind: 'tensor', feeds });
          answeredBy.add(r.bundleDigest);
          ok += 1;
        } catch (e) {
          failed.push(String((e as Error).message));
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, client);
    let overlapped = 0;
    try {
      await waitFor('the first answers', () => ok >= CLIENTS);
      for (let i = 1; i <= SWAPS; i++) {
        const before = ok;
        let done = false;
        const swap = service.variants.install('A', specs[i % 2]!).finally(() => (done = true));
        await waitFor('an answer during the swap, or its end', () => ok > before || done);
        if (!done) overlapped += 1;
        await swap;
      }
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    return { ok, failed, answeredBy, overlapped };
  } finally {
    await service.close();
  }
}

t.test(
  'simulator: swaps under load fail nothing; sessions and bytes stay off this thread',
  async (t) => {
    // onnxruntime-node on this thread: a session created here would run on the event loop.
    const created: unknown[] = [];
    const original = ort.InferenceSession.create;
    ort.InferenceSession.create = ((...args: unknown[]) => {
      created.push(args[0]);
      return (original as (...a: unknown[]) => unknown).apply(ort.InferenceSession, args);
    }) as typeof original;
    t.teardown(() => void (ort.InferenceSession.create = original));

    const sliceBytes = 256;
    let turns = 0;
    const pool = createSimSessionPool({
      thread: {
        slices: {
          sliceBytes,
          yieldTurn: () => {
            turns += 1;
            return nextTurn();
          },
        },
      },
    });
    const runtime = createSimBackend({ pool, clock: createSystemClock(), timing: 'host' });
    const specs = [tinySpec('tiny-a'), tinySpec('tiny-b')] as const;
    const feeds = goldenInputs().inputs[0]!;
    const r = await swapUnderLoad(runtime, specs, feeds);

    t.same(r.failed, [], 'no request failed');
    t.ok(r.ok > SWAPS, `requests were answered throughout (${r.ok})`);
    t.same(
      [...r.answeredBy].sort(),
      specs.map((s) => s.bundleDigest).sort(),
      'both models answered',
    );
    t.ok(r.overlapped > 0, `requests were answered while swaps ran (${r.overlapped} of ${SWAPS})`);
    t.same(created, [], 'no onnxruntime session was created on the event loop thread');
    // Each load crosses to its thread in slices: a turn between every two (the pool shares a
    // session by digest, so each of the two models loads once per swap that activates it).
    const perLoad = Math.ceil(tinyOnnx('tiny-a').byteLength / sliceBytes) - 1;
    t.ok(perLoad > 0, 'the payload spans several slices');
    t.ok(turns >= (SWAPS + 1) * perLoad, `the copies yielded (${turns} turns)`);
  },
);

/** A device BMODEL (no simulator payload) of the tiny classifier's shape; `seed` tells A from B. */
function deviceSpec(seed: number): ModelSpec {
  const bmodel = deviceBmodel({ seed });
  return {
    bundleDigest: tinyBundleDigest(`device-${seed}`),
    version: `v${seed}`,
    bmodel,
    bmodelDigest: sha256(bmodel),
  };
}

/** The binding with every model's calls recorded (which of them ran on this thread). */
function recordingAddon(addon: SophonAddon, calls: string[]): SophonAddon {
  const model = (m: NativeModel): NativeModel => ({
    describe: () => m.describe(),
    infer: (net, inputs, shapes) => m.infer(net, inputs, shapes),
    unload: () => {
      calls.push('unload');
      m.unload();
    },
    unloadAsync: () => {
      calls.push('unloadAsync');
      return m.unloadAsync();
    },
    poolStats: () => m.poolStats(),
  });
  return {
    open(dir, devid) {
      const d: NativeDevice = addon.open(dir, devid);
      return {
        deviceCount: d.deviceCount,
        load: async (bytes) => {
          calls.push('load');
          return model(await d.load(bytes));
        },
        stat: () => d.stat(),
        emulatorCounters: () => d.emulatorCounters(),
        close: () => d.close(),
      };
    },
  };
}

t.test(
  'bmrt on the emulator: swaps under load fail nothing; loads and unloads are asynchronous',
  { skip: bindingSkip() },
  async (t) => {
    // The emulator sleeps this long in bmrt_load_bmodel_data: a load done on this thread would
    // leave no request answered while it runs.
    const saved = process.env.BMFLEET_EMULATOR_LOAD_MS;
    process.env.BMFLEET_EMULATOR_LOAD_MS = '50';
    t.teardown(() => {
      if (saved === undefined) delete process.env.BMFLEET_EMULATOR_LOAD_MS;
      else process.env.BMFLEET_EMULATOR_LOAD_MS = saved;
    });
    const calls: string[] = [];
    const device = openLibsophon({
      dir: EMULATOR_DIR,
      addon: recordingAddon(loadSophonAddon(BINDING_PATH), calls),
    });
    const runtime = createBmrtBackend({ device, clock: createSystemClock(), timing: 'host' });
    const feeds = {
      input: { dtype: 'float32', shape: [1, 3, 8, 8], data: new Float32Array(192) } as Tensor,
    };
    const specs = [deviceSpec(1), deviceSpec(2)] as const;
    const r = await swapUnderLoad(runtime, specs, feeds);
    const counters = device.emulatorCounters();
    await runtime.close();

    t.same(r.failed, [], 'no request failed');
    t.same(
      [...r.answeredBy].sort(),
      specs.map((s) => s.bundleDigest).sort(),
      'both models answered',
    );
    t.ok(r.overlapped > 0, `requests were answered while swaps ran (${r.overlapped} of ${SWAPS})`);
    t.equal(calls.filter((c) => c === 'load').length, SWAPS + 1, 'one load per swap');
    t.equal(calls.filter((c) => c === 'unload').length, 0, 'never the synchronous unload');
    t.equal(
      calls.filter((c) => c === 'unloadAsync').length,
      SWAPS + 1,
      'every retired model (and the last at close) unloaded asynchronously',
    );
    t.equal(counters?.readBeforeSync, 0, 'no output read before bm_thread_sync');
  },
);
