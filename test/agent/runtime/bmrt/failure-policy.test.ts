// The libsophon error policy (agent/runtime/bmrt/failure-policy.ts, docs/libsophon.md "Error
// policy"): the pure table as data, then each kind of failure injected into the libsophon
// emulator (BMFLEET_EMULATOR_FAIL) and seen through the binding and the bmrt backend: the
// model's refusals are BMF_ERR_LIBSOPHON_MODEL, the device's conditions BMF_ERR_LIBSOPHON, no
// device memory is left behind by the failed call, and the next call works.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSystemClock } from '../../../../agent/clock.js';
import { createBmrtBackend } from '../../../../agent/runtime/bmrt/backend.js';
import { libsophonFailureKind } from '../../../../agent/runtime/bmrt/failure-policy.js';
import { openLibsophon } from '../../../../agent/runtime/bmrt/libsophon.js';
import { loadSophonAddon } from '../../../../agent/runtime/bmrt/native.js';
import { makeTensor } from '../../../../shared/tensor.js';
import { BINDING_PATH, EMULATOR_DIR, bindingSkip } from '../../../native/libsophon-fixtures.js';
import { VENDOR_SKIP_REASON, vendorDir } from '../../../shared/bmodel/fixtures.js';
import { sha256 } from '../../../../harness/agent/models.js';

interface PolicyCase {
  call: string;
  status: number | 'false';
  kind: 'model' | 'device';
}
const { cases } = JSON.parse(
  readFileSync(new URL('../../../fixtures/agent/libsophon-failures.json', import.meta.url), 'utf8'),
) as { cases: PolicyCase[] };

t.test('the policy table', async (t) => {
  for (const c of cases) {
    t.equal(libsophonFailureKind(c.call, c.status), c.kind, `${c.call} status ${c.status}`);
  }
});

const dir = vendorDir();
const skip = bindingSkip() || (dir ? false : VENDOR_SKIP_REASON);
const FILE = 'face_detection_fp32_b1.bmodel';

function withEnv(t: { teardown: (f: () => void) => void }, name: string, value: string): void {
  const saved = process.env[name];
  process.env[name] = value;
  t.teardown(() => {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  });
}

const INJECTED = [
  { fail: 'bm_thread_sync:7:1', at: 'infer', code: 'BMF_ERR_LIBSOPHON', status: '7' },
  { fail: 'bm_malloc_device_byte:5:1', at: 'infer', code: 'BMF_ERR_LIBSOPHON', status: '5' },
  { fail: 'bm_memcpy_s2d:3:1', at: 'infer', code: 'BMF_ERR_LIBSOPHON', status: '3' },
  { fail: 'bm_memcpy_d2s:1:1', at: 'infer', code: 'BMF_ERR_LIBSOPHON', status: '1' },
  {
    fail: 'bmrt_launch_tensor:false:1',
    at: 'infer',
    code: 'BMF_ERR_LIBSOPHON_MODEL',
    status: 'false',
  },
  { fail: 'bmrt_create:false:1', at: 'load', code: 'BMF_ERR_LIBSOPHON', status: 'false' },
  {
    fail: 'bmrt_load_bmodel_data:false:1',
    at: 'load',
    code: 'BMF_ERR_LIBSOPHON_MODEL',
    status: 'false',
  },
] as const;

for (const c of INJECTED) {
  t.test(`${c.fail} on ${c.at}: ${c.code}`, { skip }, async (t) => {
    const device = openLibsophon({ dir: EMULATOR_DIR, addon: loadSophonAddon(BINDING_PATH) });
    const backend = createBmrtBackend({ device, clock: createSystemClock(), timing: 'host' });
    t.teardown(() => backend.close());
    const bytes = new Uint8Array(readFileSync(join(dir!, FILE)));
    const input = {
      data: makeTensor('float32', [1, 3, 320, 320], new Float32Array(3 * 320 * 320)),
    };
    const call = c.fail.split(':')[0]!;
    const want = {
      code: c.code,
      message: new RegExp(
        `libsophon call ${call} (failed|refused the model) with status ${c.status}`,
      ),
    };
    if (c.at === 'load') {
      withEnv(t, 'BMFLEET_EMULATOR_FAIL', c.fail);
      await t.rejects(backend.load(bytes, { digest: sha256(bytes) }), want);
      t.equal(device.emulatorCounters()?.liveBlocks, 0, 'nothing left on the device');
      const h = await backend.load(bytes, { digest: sha256(bytes) });
      t.equal((await backend.infer(h, input)).outputs['face_rpn_bbox_pred_stride8']?.shape[1], 8);
      return;
    }
    const h = await backend.load(bytes, { digest: sha256(bytes) });
    const held = device.emulatorCounters()!.liveBlocks;
    withEnv(t, 'BMFLEET_EMULATOR_FAIL', c.fail);
    await t.rejects(backend.infer(h, input), want);
    t.equal(device.emulatorCounters()?.liveBlocks, held, 'the failed call freed what it took');
    t.equal(
      (await backend.infer(h, input)).outputs['face_rpn_bbox_pred_stride8']?.shape[1],
      8,
      'the next call works',
    );
  });
}

t.test(
  'a BMODEL that does not fit in the device memory left is the device state',
  { skip },
  async (t) => {
    withEnv(t, 'BMFLEET_EMULATOR_MEM_MB', '2');
    const device = openLibsophon({ dir: EMULATOR_DIR, addon: loadSophonAddon(BINDING_PATH) });
    const backend = createBmrtBackend({ device, clock: createSystemClock(), timing: 'host' });
    t.teardown(() => backend.close());
    const bytes = new Uint8Array(readFileSync(join(dir!, FILE)));
    await t.rejects(backend.load(bytes, { digest: sha256(bytes) }), {
      code: 'BMF_ERR_LIBSOPHON',
      message: /bmrt_load_bmodel_data failed with status false/,
      details: { reason: /^device memory: the BMODEL needs \d+\.\d MiB, 2\.0 MiB free$/ },
    });
  },
);
