// An agent with `runtime: bmrt` on the libsophon emulator: a bundle holding a vendor BMODEL
// (tpu-nntc, BM1684, no simulator payload) arrives by a signed assignment over the real broker,
// is fetched, verified, loaded on the device and served; POST /v1/infer with an image answers
// with outputs of the BMODEL's shapes, and /metrics carries the device figures. Runtime mix-ups
// (simulator BMODEL on bmrt, vendor BMODEL on sim) are refused at install, before the gate.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { createAgent } from '../../agent/agent.js';
import { createLogger } from '../../shared/log.js';
import { signEnvelope } from '../../shared/trust/envelope.js';
import { manifestBlobOf, manifestDigest } from '../../shared/trust/verify.js';
import { EMULATOR_DIR, bindingSkip } from '../native/libsophon-fixtures.js';
import { VENDOR_SKIP_REASON, fixtureJson, vendorDir } from '../shared/bmodel/fixtures.js';
import { agentConfig, waitFor } from '../../harness/agent/agent-env.js';
import { startFakeController } from '../../harness/agent/fake-controller.js';
import { sha256 } from '../../harness/agent/models.js';
import { makeAssignment, makeBundle, testKeys } from '../../harness/agent/trust.js';
import { encodeGoldenFile } from '../../agent/serve/golden-file.js';
import type { GoldenSet } from '../../agent/serve/types.js';
import { makeTensor } from '../../shared/tensor.js';
import type { TestBundle, TestKeys } from '../../harness/agent/trust.js';

const dir = vendorDir();
const skip = bindingSkip() || (dir ? false : VENDOR_SKIP_REASON);
const FILE = 'face_detection_fp32_b1.bmodel';

/** A gate that fails whatever runs it: all-zero reference outputs (cosine 0). */
function vendorGolden(): GoldenSet {
  return {
    inputs: [{ data: makeTensor('float32', [1, 3, 320, 320], new Float32Array(3 * 320 * 320)) }],
    referenceOutputs: [
      {
        face_rpn_cls_prob_reshape_stride32: makeTensor(
          'float32',
          [1, 4, 10, 10],
          new Float32Array(400),
        ),
      },
    ],
  };
}

function vendorBundle(
  k: TestKeys,
  bmodel: Uint8Array,
  sequence: number,
  options: { golden?: Uint8Array } = {},
): TestBundle {
  const golden = options.golden;
  const manifest = {
    type: 'bundle',
    schemaVersion: 1,
    name: 'face',
    version: `1.0.${sequence}`,
    sequence,
    chips: ['bm1684'],
    precision: 'fp32',
    runtime: 'bmrt',
    files: [
      { role: 'bmodel', path: 'model.bmodel', sha256: sha256(bmodel), size: bmodel.length },
      ...(golden
        ? [{ role: 'golden', path: 'golden.json', sha256: sha256(golden), size: golden.length }]
        : []),
    ],
    inputs: [{ name: 'data', preprocess: { resize_dims: [320, 320], pixel_format: 'bgr' } }],
    outputs: { topK: 1 },
    ...(golden ? { golden: { expectedAccuracy: 0, expectedCosine: 0.999, count: 1 } } : {}),
    provenance: {
      sourceModelSha256: sha256(bmodel),
      toolchain: 'tpu-nntc',
      toolchainVersion: '2.2',
    },
    metadata: {},
    created: '2026-01-01T00:00:00Z',
    expires: '2099-01-01T00:00:00Z',
  };
  const envelope = signEnvelope(manifest, [k.bundle]);
  const blob = manifestBlobOf(envelope);
  return {
    digest: manifestDigest(envelope),
    sequence,
    manifestBlob: { sha256: blob.sha256, size: blob.size },
    blobs: new Map([
      [blob.sha256, blob.bytes],
      [sha256(bmodel), bmodel],
      ...(golden ? [[sha256(golden), golden] as const] : []),
    ]),
  };
}

/** Sets environment variables for the test, restored when it ends. */
function setEnv(t: Test, vars: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(vars)) {
    const saved = process.env[name];
    process.env[name] = value;
    t.teardown(() => {
      if (saved === undefined) delete process.env[name];
      else process.env[name] = saved;
    });
  }
}

/** A fake controller holding `bundle`'s blobs, and the config of an agent `deviceId` using it. */
async function controllerWith(
  t: Test,
  keys: TestKeys,
  bundle: TestBundle,
  deviceId: string,
  agent: { chip: string; runtime: string },
) {
  const controller = await startFakeController({ chunkSize: 64 * 1024 });
  t.teardown(() => controller.close());
  for (const [d, bytes] of bundle.blobs) controller.blobs.set(d, bytes);
  const config = await agentConfig(keys, controller.url, deviceId, agent);
  return { controller, config };
}

/** An agent logger whose messages land in `lines`. */
function recordingLogger() {
  const lines: string[] = [];
  const logger = createLogger({
    program: 'agent',
    destination: { write: (s: string) => void lines.push((JSON.parse(s) as { msg: string }).msg) },
  });
  return { lines, logger };
}

t.test('vendor BMODEL bundle -> agent on bmrt -> /v1/infer', { skip }, async (t) => {
  setEnv(t, { BMFLEET_LIBSOPHON_DIR: EMULATOR_DIR });
  const keys = testKeys();
  const bundle = vendorBundle(keys, new Uint8Array(readFileSync(join(dir!, FILE))), 1);
  const { controller, config } = await controllerWith(t, keys, bundle, 'board-1', {
    chip: 'bm1684',
    runtime: 'auto',
  });
  const { lines, logger } = recordingLogger();
  const agent = createAgent(config, { logger });
  t.same(
    [agent.runtime.chosen, agent.runtime.reason],
    ['bmrt', `found ${EMULATOR_DIR}lib/libbmrt.so`],
  );
  await agent.start();
  t.teardown(() => agent.stop());
  t.ok(
    lines.some((l) => l.startsWith('runtime bmrt (found ')),
    'the agent says which runtime and why',
  );

  await controller.assign(
    'board-1',
    makeAssignment(keys, 'board-1', 1, [{ name: 'A', bundle, weight: 1 }]),
  );
  await waitFor(
    'vendor bundle active',
    () => agent.service.models()[0]?.bundleDigest === bundle.digest,
  );

  const image = await sharp({
    create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 120, b: 40 } },
  })
    .png()
    .toBuffer();
  const res = await fetch(`${agent.apiAddress()}/v1/infer`, {
    method: 'POST',
    headers: { 'content-type': 'image/png' },
    body: image,
  });
  t.equal(res.status, 200);
  const body = (await res.json()) as {
    outputs: Record<string, { dtype: string; shape: number[]; data: number[] }>;
  };
  const { files } = fixtureJson<{
    files: { file: string; nets: { outputs: { name: string; shape: number[] }[] }[] }[];
  }>('vendor-files.json');
  const want = files.find((f) => f.file === FILE)!.nets[0]!.outputs;
  t.same(
    Object.entries(body.outputs).map(([name, o]) => [name, o.dtype, o.shape]),
    want.map((o) => [o.name, 'float32', o.shape]),
    'every output with the BMODEL shape',
  );
  for (const [name, o] of Object.entries(body.outputs)) {
    t.equal(
      o.data.length,
      o.shape.reduce((a, b) => a * b, 1),
      `${name} data length`,
    );
  }
  const metrics = await (await fetch(`${agent.apiAddress()}/metrics`)).text();
  t.match(metrics, /bmf_agent_tpu_memory_used_bytes\{device="board-1"\} [1-9]\d*/);
});

// Runtime mix-ups are refused at install, at the load step, with an error naming the runtime the
// BMODEL needs: the golden gate never sees them, and nothing serves.
const MIXUPS = [
  {
    name: 'a simulator bundle on an agent with runtime bmrt',
    runtime: 'bmrt',
    chip: 'bm1684x',
    bundle: (k: TestKeys) => makeBundle(k, 'tiny-a'),
    code: 'BMF_ERR_RUNTIME_SIM_ONLY',
    needs: /needs the sim runtime/,
  },
  {
    name: 'a vendor bundle on an agent with runtime sim',
    runtime: 'sim',
    chip: 'bm1684',
    bundle: (k: TestKeys) =>
      vendorBundle(k, new Uint8Array(readFileSync(join(dir!, FILE))), 1, {
        golden: encodeGoldenFile(vendorGolden()),
      }),
    code: 'BMF_ERR_RUNTIME_LOAD',
    needs: /needs the bmrt runtime/,
  },
] as const;

for (const m of MIXUPS) {
  t.test(`${m.name} is refused at install, before the gate`, { skip }, async (t) => {
    setEnv(t, { BMFLEET_LIBSOPHON_DIR: EMULATOR_DIR });
    const keys = testKeys();
    const bundle = m.bundle(keys);
    const { controller, config } = await controllerWith(t, keys, bundle, 'board-2', {
      chip: m.chip,
      runtime: m.runtime,
    });
    const agent = createAgent(config, {
      logger: createLogger({ program: 'agent', level: 'silent' }),
    });
    t.equal(agent.runtime.chosen, m.runtime);
    await agent.start();
    t.teardown(() => agent.stop());
    await controller.assign(
      'board-2',
      makeAssignment(keys, 'board-2', 1, [{ name: 'A', bundle, weight: 1 }]),
    );
    await waitFor('the refusal reported', () => controller.events.some((e) => e.code === m.code));
    const refusal = controller.events.find((e) => e.code === m.code)!;
    t.match(refusal.message, m.needs, `names the runtime needed: ${refusal.message}`);
    t.equal(refusal.bundleDigest, bundle.digest);
    t.notOk(
      controller.events.some((e) => e.code === 'BMF_ERR_AGENT_GATE_FAILED'),
      'the golden gate never ran',
    );
    t.same(agent.service.models(), [], 'nothing serves');
  });
}

// The libsophon error policy at install (docs/libsophon.md "Error policy"): a busy device is
// retried until the bundle serves; libbmrt refusing the model rejects the bundle.
const POLICY = [
  {
    name: 'a device failure at load is retried',
    fail: 'bmrt_create:false:2',
    log: /^load failed: libsophon call bmrt_create failed with status false/,
    code: 'BMF_ERR_LIBSOPHON',
    serves: true,
  },
  {
    name: 'libbmrt refusing the BMODEL rejects the bundle',
    fail: 'bmrt_load_bmodel_data:false:1',
    log: /^bundle refused: libsophon call bmrt_load_bmodel_data refused the model with status false/,
    code: 'BMF_ERR_LIBSOPHON_MODEL',
    serves: false,
  },
] as const;

for (const p of POLICY) {
  t.test(p.name, { skip }, async (t) => {
    setEnv(t, { BMFLEET_LIBSOPHON_DIR: EMULATOR_DIR, BMFLEET_EMULATOR_FAIL: p.fail });
    const keys = testKeys();
    const bundle = vendorBundle(keys, new Uint8Array(readFileSync(join(dir!, FILE))), 1);
    const { controller, config } = await controllerWith(t, keys, bundle, 'board-3', {
      chip: 'bm1684',
      runtime: 'bmrt',
    });
    const { lines, logger } = recordingLogger();
    const agent = createAgent(config, { logger });
    await agent.start();
    t.teardown(() => agent.stop());
    await controller.assign(
      'board-3',
      makeAssignment(keys, 'board-3', 1, [{ name: 'A', bundle, weight: 1 }]),
    );
    await waitFor(`${p.code} reported`, () => controller.events.some((e) => e.code === p.code));
    await waitFor('the failure logged', () => lines.some((l) => p.log.test(l)));
    if (p.serves) {
      await waitFor(
        'the bundle serves after the retry',
        () => agent.service.models()[0]?.bundleDigest === bundle.digest,
      );
      t.notOk(
        lines.some((l) => l.startsWith('bundle refused')),
        'a device failure does not refuse the bundle',
      );
    } else {
      t.same(agent.service.models(), [], 'nothing serves');
    }
  });
}
