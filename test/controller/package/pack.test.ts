import t from 'tap';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileModel } from '../../../controller/compile/index.js';
import { packBundle, sha256File } from '../../../controller/package/pack.js';
import {
  parseAuthoredPreprocessSpec,
  parsePreprocessSpec,
} from '../../../shared/preprocess/index.js';
import { signBundleDir, verifyBundleDir } from '../../../shared/bundle/dir.js';
import { createKeystore } from '../../../shared/trust/keystore.js';

const example = new URL('../../../examples/fashion-mnist/', import.meta.url).pathname;

t.test(
  'a compiled BMODEL packs into a bundle that signs, verifies and carries a golden set',
  async (t) => {
    const work = await mkdtemp(join(tmpdir(), 'bmf-pack-test-'));
    const specJson = JSON.parse(
      await readFile(join(example, 'preprocess.json'), 'utf8'),
    ) as unknown;
    const compiled = await compileModel({
      modelPath: join(example, 'model.onnx'),
      chip: 'bm1684x',
      precision: 'fp32',
      preprocess: parsePreprocessSpec(specJson),
      outDir: join(work, 'compiled'),
    });
    const golden = [];
    for (const cls of ['0', '1', '2', '3', '4']) {
      const files = (await readdir(join(example, 'eval', cls))).sort().slice(0, 4);
      for (const f of files)
        golden.push({ path: join(example, 'eval', cls, f), label: Number(cls) });
    }
    const bundleDir = join(work, 'bundle');
    const manifest = await packBundle({
      bmodelPath: compiled.bmodelPath,
      name: 'fashion-mnist',
      version: '1.0.0',
      sequence: 1,
      chips: ['bm1684x'],
      precision: 'fp32',
      preprocess: parseAuthoredPreprocessSpec(specJson),
      labelsPath: join(example, 'labels.txt'),
      golden,
      provenance: {
        sourceModelSha256: await sha256File(join(example, 'model.onnx')),
        toolchain: 'bmfleet-sim',
        toolchainVersion: '0.1.0',
      },
      metadata: { modeledLatencyMs: 0.05 },
      calibrationImages: (await readdir(join(example, 'calibration')))
        .sort()
        .slice(0, 20)
        .map((f) => join(example, 'calibration', f)),
      outDir: bundleDir,
      now: new Date(),
    });
    t.equal(manifest.runtime, 'sim');
    t.same(manifest.files.map((f) => f.role).sort(), ['bmodel', 'golden', 'labels']);
    t.ok(manifest.golden && manifest.golden.expectedAccuracy > 0.5, 'golden accuracy measured');
    t.equal(manifest.golden?.count, 20);
    const stats = manifest.metadata.calibrationStats as {
      channel: number;
      mean: number;
      std: number;
    }[];
    t.equal(stats.length, 1, 'one channel (gray)');
    // preprocess.json standardises with the training mean/std, so calibration inputs sit near 0/1
    t.ok(
      Math.abs(stats[0]?.mean ?? 9) < 0.5 && Math.abs((stats[0]?.std ?? 0) - 1) < 0.5,
      JSON.stringify(stats),
    );
    const keys = createKeystore(join(work, 'keys'));
    await keys.init({ now: new Date() });
    await signBundleDir(bundleDir, await keys.signers('bundle'));
    const verified = await verifyBundleDir(bundleDir, {
      root: await keys.readRoot(),
      chip: 'bm1684x',
      now: new Date(),
    });
    t.equal(verified.manifest.name, 'fashion-mnist');
  },
);
