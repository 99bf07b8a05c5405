// unloadAsync on the libsophon emulator: bmrt_destroy waits for the device to go idle, and the
// device is shared with the model that replaced this one in a hot-swap, so the wait happens off
// the event loop; the model's device memory is given back and the model is unusable afterwards.
import t from 'tap';
import { openLibsophon } from '../../../../agent/runtime/bmrt/libsophon.js';
import type { LibsophonModel } from '../../../../agent/runtime/bmrt/libsophon.js';
import { loadSophonAddon } from '../../../../agent/runtime/bmrt/native.js';
import { deviceBmodel } from '../../../../harness/agent/models.js';
import { isBmfError } from '../../../../shared/errors.js';
import { waitFor } from '../../../../harness/wait.js';
import { BINDING_PATH, EMULATOR_DIR, bindingSkip } from '../../../native/libsophon-fixtures.js';

const skip = bindingSkip();

/** FP32 [1,4] -> FP32 [1,2]; `seed` tells two apart. */
const bmodelOf = (seed: number) =>
  deviceBmodel({ seed, input: [1, 4], output: [1, 2], outputName: 'output', ctxSize: 1 << 12 });

const input = [{ bytes: new Uint8Array(16), shape: [1, 4] }];
const infer = (m: LibsophonModel) => m.infer('net', input);

/** Counts event-loop turns until `p` settles. */
async function turnsWhile(p: Promise<unknown>): Promise<number> {
  let turns = 0;
  let done = false;
  const tick = (): void => {
    turns++;
    if (!done) setImmediate(tick);
  };
  setImmediate(tick);
  try {
    await p;
  } finally {
    done = true;
  }
  return turns;
}

t.test('unloadAsync waits for the busy device off the event loop', { skip }, async (t) => {
  const device = openLibsophon({ dir: EMULATOR_DIR, addon: loadSophonAddon(BINDING_PATH) });
  t.teardown(() => device.close());
  const old = await device.load(bmodelOf(1));
  const oldBlocks = device.emulatorCounters()!.liveBlocks;
  const next = await device.load(bmodelOf(2));
  const bothBlocks = device.emulatorCounters()!.liveBlocks;
  // The replacement keeps the device busy: bmrt_destroy's bm_thread_sync waits for its launch.
  process.env.BMFLEET_EMULATOR_LAUNCH_MS = '1500';
  t.teardown(() => delete process.env.BMFLEET_EMULATOR_LAUNCH_MS);
  const launched = device.emulatorCounters()!.launches;
  const serving = infer(next);
  // The launch runs on the binding's worker: unload only once it is on the device, so
  // bmrt_destroy has a busy device to wait for whatever order the threads are scheduled in.
  await waitFor('the replacement launched', () => device.emulatorCounters()!.launches > launched);
  const turns = await turnsWhile(old.unloadAsync());
  t.ok(turns > 4, `event loop turned ${turns} times while the old model was destroyed`);
  t.equal((await serving)[0]?.shape.join(','), '1,2', 'the replacement answered');
  delete process.env.BMFLEET_EMULATOR_LAUNCH_MS;
  t.equal(
    device.emulatorCounters()!.liveBlocks,
    bothBlocks - oldBlocks,
    "the old model's memory is back",
  );
  const err = await infer(old).catch((e: unknown) => e);
  // libbmrt no longer knows the net: a model refusal (docs/libsophon.md, error policy).
  t.ok(isBmfError(err, 'BMF_ERR_LIBSOPHON_MODEL'), `unusable: ${String(err)}`);
  await old.unloadAsync(); // a second unload has nothing to do
  await next.unloadAsync();
  t.match(device.emulatorCounters(), { liveBlocks: 0, readBeforeSync: 0, badAddress: 0 });
});

t.test(
  'unloadAsync under its own inference is refused and the model stays',
  { skip },
  async (t) => {
    const device = openLibsophon({ dir: EMULATOR_DIR, addon: loadSophonAddon(BINDING_PATH) });
    t.teardown(() => device.close());
    const model = await device.load(bmodelOf(3));
    process.env.BMFLEET_EMULATOR_LAUNCH_MS = '100';
    t.teardown(() => delete process.env.BMFLEET_EMULATOR_LAUNCH_MS);
    const running = infer(model);
    await t.rejects(model.unloadAsync(), { code: 'BMF_ERR_LIBSOPHON', message: /bmrt_destroy/ });
    await running;
    delete process.env.BMFLEET_EMULATOR_LAUNCH_MS;
    t.equal((await infer(model))[0]?.shape.join(','), '1,2', 'still serves');
    await model.unloadAsync();
    t.equal(device.emulatorCounters()!.liveBlocks, 0);
  },
);
