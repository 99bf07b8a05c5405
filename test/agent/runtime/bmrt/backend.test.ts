// The bmrt backend on the libsophon emulator with the vendor BMODELs: the RuntimeBackend contract
// (load, describe, infer at the stage the feeds match, unload), runtime mix-ups refused at load
// naming the runtime needed, `auto` selection and the device figures in /metrics.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSystemClock } from '../../../../agent/clock.js';
import { createBmrtBackend } from '../../../../agent/runtime/bmrt/backend.js';
import { openLibsophon } from '../../../../agent/runtime/bmrt/libsophon.js';
import { loadSophonAddon } from '../../../../agent/runtime/bmrt/native.js';
import { selectRuntime } from '../../../../agent/runtime/select.js';
import { createSimSessionPool } from '../../../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../../../agent/runtime/sim.js';
import { createServeMetrics } from '../../../../agent/serve/metrics.js';
import { makeTensor, tensorBytes } from '../../../../shared/tensor.js';
import { expectedOutputs } from '../../../native/emulator-outputs.js';
import { BINDING_PATH, EMULATOR_DIR, bindingSkip } from '../../../native/libsophon-fixtures.js';
import { VENDOR_SKIP_REASON, vendorDir } from '../../../shared/bmodel/fixtures.js';
import { sha256, tinyBmodel } from '../../../../harness/agent/models.js';
import { seededBytes } from '../../../../shared/stats/seeded-random.js';

const dir = vendorDir();
const skip = bindingSkip() || (dir ? false : VENDOR_SKIP_REASON);
const clock = createSystemClock();
const backendOnEmulator = (): ReturnType<typeof createBmrtBackend> =>
  createBmrtBackend({
    device: openLibsophon({ dir: EMULATOR_DIR, addon: loadSophonAddon(BINDING_PATH) }),
    clock,
    timing: 'host',
  });
const vendor = (file: string): Uint8Array => new Uint8Array(readFileSync(join(dir!, file)));

const CASES = [
  { file: 'face_detection_fp32_b1.bmodel', dtype: 'float32', shape: [1, 3, 320, 320] },
  { file: 'face_detection_int8_b4.bmodel', dtype: 'int8', shape: [4, 3, 320, 320] },
] as const;

for (const c of CASES) {
  t.test(`${c.file} through the backend`, { skip }, async (t) => {
    const backend = backendOnEmulator();
    t.teardown(() => backend.close());
    const bytes = vendor(c.file);
    const h = await backend.load(bytes, { digest: sha256(bytes) });
    const d = backend.describe(h);
    t.equal(d.chip, 'BM1684');
    t.same(
      d.inputs.map((i) => [i.name, i.dtype, i.shape]),
      [['data', c.dtype, c.shape]],
    );
    t.equal(d.outputs.length, 9);
    const raw = seededBytes(
      (c.shape as readonly number[]).reduce((a, b) => a * b, 1) * (c.dtype === 'float32' ? 4 : 1),
      5,
    );
    const data = c.dtype === 'float32' ? new Float32Array(raw.buffer) : new Int8Array(raw.buffer);
    const input = makeTensor(c.dtype, c.shape, data as never);
    const r = await backend.infer(h, { data: input });
    t.equal(r.timing, 'host');
    const want = expectedOutputs(
      [{ bytes: raw, shape: c.shape }],
      d.outputs.map((o) => ({ dataType: o.dtype === 'float32' ? 0 : 2, shape: o.shape })),
    );
    d.outputs.forEach((o, k) => {
      const got = r.outputs[o.name]!;
      t.same([got.dtype, got.shape], [o.dtype, o.shape], `${o.name} dtype and shape`);
      t.ok(Buffer.from(tensorBytes(got)).equals(Buffer.from(want[k]!)), `${o.name} bytes`);
    });
    await t.rejects(
      backend.infer(h, {
        data: makeTensor(c.dtype, [1, 3, 32, 32], new Float32Array(3072) as never),
      }),
      { code: 'BMF_ERR_TENSOR_SHAPE', message: /no stage for data\[1,3,32,32\]/ },
    );
    const stat = backend.deviceStat();
    t.ok(stat.memUsedMiB > 0, 'the model holds device memory');
    await backend.unload(h);
    await backend.unload(h); // idempotent
    t.equal(backend.deviceStat().memUsedMiB, 0, 'unload gives it back');
  });
}

t.test('unload waits for the inference in flight', { skip }, async (t) => {
  process.env.BMFLEET_EMULATOR_LAUNCH_MS = '30';
  t.teardown(() => delete process.env.BMFLEET_EMULATOR_LAUNCH_MS);
  const device = openLibsophon({ dir: EMULATOR_DIR, addon: loadSophonAddon(BINDING_PATH) });
  const backend = createBmrtBackend({ device, clock, timing: 'host' });
  t.teardown(() => backend.close());
  const bytes = vendor(CASES[0].file);
  const h = await backend.load(bytes, { digest: sha256(bytes) });
  const input = makeTensor('float32', CASES[0].shape, new Float32Array(3 * 320 * 320));
  const running = backend.infer(h, { data: input });
  await backend.unload(h);
  t.equal((await running).outputs['face_rpn_cls_prob_reshape_stride32']?.shape.length, 4);
  t.match(device.emulatorCounters(), { liveBlocks: 0, readBeforeSync: 0, badAddress: 0 });
});

t.test('a simulator BMODEL is refused by bmrt at load, naming sim', { skip }, async (t) => {
  const sim = tinyBmodel('tiny-a');
  const backend = backendOnEmulator();
  t.teardown(() => backend.close());
  await t.rejects(backend.load(sim, { digest: sha256(sim) }), {
    code: 'BMF_ERR_RUNTIME_SIM_ONLY',
    message: /needs the sim runtime/,
  });
});

t.test(
  'a vendor BMODEL is refused by sim at load, naming bmrt',
  { skip: dir ? false : VENDOR_SKIP_REASON },
  async (t) => {
    const simBackend = createSimBackend({ pool: createSimSessionPool(), clock, timing: 'host' });
    const bytes = vendor(CASES[0].file);
    await t.rejects(simBackend.load(bytes, { digest: sha256(bytes) }), {
      code: 'BMF_ERR_RUNTIME_LOAD',
      message: /needs the bmrt runtime/,
    });
  },
);

t.test('auto picks bmrt when libsophon is found, and says why', { skip }, async (t) => {
  const pool = createSimSessionPool();
  const libbmrt = join(EMULATOR_DIR, 'lib/libbmrt.so');
  const chosen = selectRuntime('auto', {
    pool,
    clock,
    timing: 'host',
    libbmrtPath: libbmrt,
    createBmrtBackend: backendOnEmulator,
  });
  t.teardown(() => chosen.backend.close?.());
  t.same([chosen.chosen, chosen.reason], ['bmrt', `found ${libbmrt}`]);
  const fallback = selectRuntime('auto', {
    pool,
    clock,
    timing: 'host',
    libbmrtPath: libbmrt,
    createBmrtBackend: () =>
      openLibsophon({ dir: '/nonexistent', addon: loadSophonAddon(BINDING_PATH) }) as never,
  });
  t.equal(fallback.chosen, 'sim');
  t.match(
    fallback.reason,
    /bmrt cannot start: libsophon library \/nonexistent\/lib\/libbmlib\.so not found/,
  );
});

t.test('/metrics exports the device figures', { skip }, async (t) => {
  const backend = backendOnEmulator();
  t.teardown(() => backend.close());
  const bytes = vendor(CASES[1].file);
  await backend.load(bytes, { digest: sha256(bytes) });
  const { registry } = createServeMetrics({ device: 'd1' }, () => backend.deviceStat());
  const text = await registry.metrics();
  const used = /bmf_agent_tpu_memory_used_bytes\{device="d1"\} (\d+)/.exec(text);
  t.ok(used && Number(used[1]) > 0, 'device memory in use');
  t.match(text, /bmf_agent_tpu_memory_total_bytes\{device="d1"\} 4294967296/);
  t.match(text, /bmf_agent_tpu_util_percent\{device="d1"\} \d+/);
});
