// The libsophon binding against the emulator (build/libsophon-emulator) with both vendor BMODELs:
// open, describe as their facts say (test/fixtures/bmodel/vendor-files.json), infer at the batch
// each holds with outputs checked byte for byte against the emulator's documented function,
// every error typed, the event loop free during a launch, and no device memory left behind.
import t from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLibsophon } from '../../../../agent/runtime/bmrt/libsophon.js';
import type { LibsophonDevice } from '../../../../agent/runtime/bmrt/libsophon.js';
import { loadSophonAddon } from '../../../../agent/runtime/bmrt/native.js';
import { formatFloat } from '../../../../shared/bmodel/index.js';
import { isBmfError } from '../../../../shared/errors.js';
import { expectedOutputs } from '../../../native/emulator-outputs.js';
import { BINDING_PATH, EMULATOR_DIR, bindingSkip } from '../../../native/libsophon-fixtures.js';
import { VENDOR_SKIP_REASON, fixtureJson, vendorDir } from '../../../shared/bmodel/fixtures.js';
import { seededBytes } from '../../../../shared/stats/seeded-random.js';

interface TensorFacts {
  name: string;
  dtype: string;
  shape: number[];
  scale?: number;
  zeroPoint?: number;
}
interface FileFacts {
  file: string;
  nets: { name: string; dynamic: boolean; inputs: TensorFacts[]; outputs: TensorFacts[] }[];
}

const dir = vendorDir();
// The binding and emulator alone (no BMODEL) for the library checks; the rest also need the files.
const bindingOnly = bindingSkip();
const skip = bindingOnly || (dir ? false : VENDOR_SKIP_REASON);
const { files } = fixtureJson<{ files: FileFacts[] }>('vendor-files.json');
const addon = bindingOnly ? undefined : loadSophonAddon(BINDING_PATH);
const open = (): LibsophonDevice => openLibsophon({ dir: EMULATOR_DIR, addon: addon! });

t.test(
  'a missing library or symbol is a typed error naming it',
  { skip: bindingOnly },
  async (t) => {
    const none = mkdtempSync(join(tmpdir(), 'bmf-nolib-'));
    t.teardown(() => rmSync(none, { recursive: true, force: true }));
    t.throws(() => openLibsophon({ dir: none, addon: addon! }), {
      code: 'BMF_ERR_LIBSOPHON_MISSING',
      message: /library .*libbmlib\.so not found/,
    });
    // A libbmrt.so that lacks bmrt's entry points (libbmlib copied in its place).
    mkdirSync(join(none, 'lib'));
    copyFileSync(join(EMULATOR_DIR, 'lib/libbmlib.so'), join(none, 'lib/libbmlib.so'));
    copyFileSync(join(EMULATOR_DIR, 'lib/libbmlib.so'), join(none, 'lib/libbmrt.so'));
    t.throws(() => openLibsophon({ dir: none, addon: addon! }), {
      code: 'BMF_ERR_LIBSOPHON_MISSING',
      message: /symbol bmrt_create not found/,
    });
    t.throws(() => openLibsophon({ dir: EMULATOR_DIR, devid: 3, addon: addon! }), {
      code: 'BMF_ERR_LIBSOPHON',
      message: /bm_dev_request failed with status 4/,
    });
  },
);

for (const f of files) {
  t.test(`${f.file}: describe, infer, errors, unload`, { skip }, async (t) => {
    const dev = open();
    t.teardown(() => dev.close());
    const bytes = new Uint8Array(readFileSync(join(dir!, f.file)));
    const model = await dev.load(bytes);
    t.equal(model.nets.length, f.nets.length, 'net count');
    const facts = f.nets[0]!;
    const net = model.nets[0]!;
    t.equal(net.name, facts.name);
    t.equal(net.isDynamic, facts.dynamic);
    const check = (kind: string, got: typeof net.inputs, want: TensorFacts[]): void => {
      t.same(
        got.map((x) => x.name),
        want.map((x) => x.name),
        `${kind} names in order`,
      );
      want.forEach((w, j) => {
        const g = got[j]!;
        t.equal(g.dtype, w.dtype, `${w.name} dtype`);
        t.same(net.stages[0]![kind === 'input' ? 'inputShapes' : 'outputShapes'][j], w.shape);
        if (w.scale !== undefined)
          t.equal(formatFloat(g.scale), formatFloat(w.scale), `${w.name} scale`);
        if (w.zeroPoint !== undefined) t.equal(g.zeroPoint, w.zeroPoint, `${w.name} zero point`);
      });
    };
    check('input', net.inputs, facts.inputs);
    check('output', net.outputs, facts.outputs);

    // Every stage (each holds one batch size) with seeded inputs.
    for (const [s, stage] of net.stages.entries()) {
      const inputs = stage.inputShapes.map((shape, i) => ({
        shape,
        bytes: seededBytes(net.inputs[i]!.maxBytes, 17 + s + i),
      }));
      const outs = await model.infer(net.name, inputs);
      const want = expectedOutputs(
        inputs,
        net.outputs.map((o, k) => ({ dataType: o.dataType, shape: stage.outputShapes[k]! })),
      );
      t.same(
        outs.map((o) => [o.name, o.dtype, o.shape]),
        net.outputs.map((o, k) => [o.name, o.dtype, stage.outputShapes[k]]),
        `stage ${s}: names, dtypes, shapes`,
      );
      outs.forEach((o, k) => {
        t.ok(Buffer.from(o.data).equals(Buffer.from(want[k]!)), `stage ${s} ${o.name}: bytes`);
      });
      // Batch items are independent: changing item 0 leaves the others' outputs as they were.
      const n = stage.inputShapes[0]![0]!;
      if (n > 1) {
        const changed = inputs.map((i) => ({ ...i, bytes: i.bytes.slice() }));
        changed[0]!.bytes[0]! ^= 0xff;
        const again = await model.infer(net.name, changed);
        const per = again[0]!.data.byteLength / n;
        t.ok(
          Buffer.from(again[0]!.data, per).equals(Buffer.from(outs[0]!.data, per)),
          'items 1.. unchanged',
        );
        t.notOk(
          Buffer.from(again[0]!.data, 0, per).equals(Buffer.from(outs[0]!.data, 0, per)),
          'item 0 changed',
        );
      }
    }

    const stage0 = net.stages[0]!;
    const good = stage0.inputShapes.map((shape, i) => ({
      shape,
      bytes: new Uint8Array(net.inputs[i]!.maxBytes),
    }));
    await t.rejects(model.infer('no-such-net', good), {
      code: 'BMF_ERR_LIBSOPHON_MODEL',
      message: /bmrt_get_network_info refused the model with status false/,
    });
    const wrong = good.map((g) => ({
      ...g,
      shape: [...g.shape.slice(0, -1), g.shape.at(-1)! - 1],
    }));
    await t.rejects(model.infer(net.name, wrong), {
      code: 'BMF_ERR_LIBSOPHON_MODEL',
      message: /bmrt_launch_tensor refused the model with status false/,
    });
    await t.rejects(dev.load(bytes.subarray(0, 1000)), {
      code: 'BMF_ERR_LIBSOPHON_MODEL',
      message: /bmrt_load_bmodel_data refused the model with status false/,
    });
    const stat = dev.stat();
    t.ok(stat.memUsedMiB > 0 && stat.memUsedMiB <= stat.memTotalMiB, 'device memory in use');
    model.unload();
    const c = dev.emulatorCounters()!;
    t.match(c, {
      liveBlocks: 0,
      liveBytes: 0,
      readBeforeSync: 0,
      freeBeforeSync: 0,
      badAddress: 0,
    });
    t.equal(dev.stat().memUsedMiB, 0, 'all device memory back after unload');
  });
}

t.test('the event loop runs while the device works', { skip }, async (t) => {
  process.env.BMFLEET_EMULATOR_LAUNCH_MS = '40';
  t.teardown(() => delete process.env.BMFLEET_EMULATOR_LAUNCH_MS);
  const dev = open();
  t.teardown(() => dev.close());
  const model = await dev.load(new Uint8Array(readFileSync(join(dir!, files[0]!.file))));
  const net = model.nets[0]!;
  const inputs = net.stages[0]!.inputShapes.map((shape, i) => ({
    shape,
    bytes: new Uint8Array(net.inputs[i]!.maxBytes),
  }));
  let ticks = 0;
  let done = false;
  const tick = (): void => {
    ticks++;
    if (!done) setImmediate(tick);
  };
  setImmediate(tick);
  await Promise.all([1, 2, 3, 4].map(() => model.infer(net.name, inputs)));
  done = true;
  t.ok(ticks > 4, `event loop turned ${ticks} times during 4 launches`);
  t.equal(dev.emulatorCounters()!.liveBlocks, 2, 'only the model memory is held');
  model.unload();
});

t.test('many inferences leave no device memory behind and RSS flat', { skip }, async (t) => {
  const dev = open();
  t.teardown(() => dev.close());
  const model = await dev.load(new Uint8Array(readFileSync(join(dir!, files[1]!.file))));
  const net = model.nets[0]!;
  const inputs = net.stages[0]!.inputShapes.map((shape, i) => ({
    shape,
    bytes: seededBytes(net.inputs[i]!.maxBytes, i),
  }));
  const run = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await model.infer(net.name, inputs);
  };
  await run(500);
  const before = process.memoryUsage().rss;
  const N = Number(process.env.BMFLEET_TEST_INFERENCES ?? 1000);
  await run(N);
  const growth = process.memoryUsage().rss - before;
  const c = dev.emulatorCounters()!;
  t.equal(c.launches, 500 + N, 'every call launched once');
  t.equal(c.liveBlocks, 2, 'no output or input memory left on the device');
  t.equal(c.readBeforeSync + c.freeBeforeSync + c.badAddress, 0, 'no contract breach');
  // Flat within 32 MiB: output buffers are recycled and the GC's own slack is a few MiB.
  t.ok(growth < 32 * 2 ** 20, `RSS grew ${(growth / 2 ** 20).toFixed(1)} MiB over ${N} inferences`);
  model.unload();
  t.ok(
    isBmfError(
      await model.infer(net.name, inputs).catch((e: unknown) => e),
      'BMF_ERR_LIBSOPHON_MODEL',
    ),
  );
});
