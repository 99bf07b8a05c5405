// The board package: the ELF reader against real binaries in node_modules, the manifest rules,
// the dependency guard, and, when a package was built beforehand (node --import tsx
// cross/build.ts) and qemu is installed, the packaged arm64 Node.js running the agent's sim
// backend under emulation. This test never builds or downloads anything.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import {
  AGENT_RUNTIME_DEPENDENCIES,
  assertImportsCovered,
  importedPackages,
  pinnedVersions,
} from '../../cross/deps.js';
import { readBinaryInfo } from '../../cross/elf.js';
import type { BmrtSmokeResult, SmokeResult } from '../../cross/smoke.js';
import {
  emulatedArgv,
  emulatorPrefix,
  probeEmulator,
  withArmCpuinfo,
} from '../../cross/emulate.js';
import {
  assertAllAarch64,
  buildManifest,
  describeNative,
  isNativeCandidate,
  scanNativeFiles,
} from '../../cross/manifest.js';
import { createSystemClock } from '../../agent/clock.js';
import { createSimSessionPool } from '../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../agent/runtime/sim.js';
import { goldenInputs, sha256, tinyBmodel } from '../../harness/agent/models.js';
import { boardPackageDir } from '../../harness/board-package.js';
import { VENDOR_SKIP_REASON, fixtureJson, vendorDir } from '../shared/bmodel/fixtures.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
interface Cases {
  files: { path: string; format: string; machine: string; glibc?: string; glibcxx?: string }[];
  candidates: [string, boolean][];
  imports: [string, string[]][];
}
const cases = JSON.parse(
  readFileSync(new URL('../fixtures/cross/elf-cases.json', import.meta.url), 'utf8'),
) as Cases;

t.test('ELF reader: machine and glibc needs of real binaries', async (t) => {
  for (const c of cases.files) {
    const abs = join(REPO, c.path);
    if (!existsSync(abs)) {
      t.fail(`${c.path} missing: the fixture table names a file npm ci should have installed`);
      continue;
    }
    const f = describeNative(c.path, readFileSync(abs));
    t.equal(f.format, c.format, `${c.path} format`);
    t.equal(f.machine, c.machine, `${c.path} machine`);
    if (c.glibc) t.equal(f.glibc, c.glibc, `${c.path} highest GLIBC`);
    if (c.glibcxx) t.equal(f.glibcxx, c.glibcxx, `${c.path} highest GLIBCXX`);
  }
  const host = readBinaryInfo(readFileSync(process.execPath));
  t.equal(host.machine, process.arch === 'arm64' ? 183 : 62, 'the host node binary');
});

t.test('ELF reader: damaged headers are typed errors', async (t) => {
  const arm = readFileSync(
    join(REPO, 'node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node'),
  );
  t.throws(() => readBinaryInfo(arm.subarray(0, 64), 'cut.node'), {
    code: 'BMF_ERR_ELF_INVALID',
    message: /cut\.node.*section header table past end/,
  });
  const headerOnly = Buffer.from(arm.subarray(0, 64));
  headerOnly.fill(0, 0x28, 0x30); // e_shoff = 0: no section headers, as in a stripped file
  t.same(readBinaryInfo(headerOnly), {
    format: 'elf',
    machine: 183,
    machineName: 'AArch64',
    bits: 64,
    neededVersions: [],
  });
  t.throws(() => readBinaryInfo(arm.subarray(0, 20)), { code: 'BMF_ERR_ELF_INVALID' });
  const badClass = Buffer.from(arm.subarray(0, 128));
  badClass[4] = 7;
  t.throws(() => readBinaryInfo(badClass), { code: 'BMF_ERR_ELF_INVALID', message: /EI_CLASS 7/ });
  t.equal(readBinaryInfo(Buffer.from('#!/bin/sh\n')).format, 'unknown');
});

t.test('native candidates and import scanning, as data', async (t) => {
  for (const [path, expected] of cases.candidates) {
    t.equal(isNativeCandidate(path), expected, path);
  }
  for (const [source, expected] of cases.imports) {
    t.same(importedPackages(source), expected, source);
  }
});

t.test('manifest: x86-64 natives fail the package, newer glibc warns', async (t) => {
  const read = (p: string) => describeNative(p, readFileSync(join(REPO, p)));
  const arm = read('node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1');
  const x64 = read('node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node');
  const good = buildManifest([arm]);
  t.doesNotThrow(() => assertAllAarch64(good));
  t.same(good.warnings, [], 'glibc 2.28 fits the boards');
  t.equal(good.highestGlibc?.version, '2.28');
  t.throws(() => assertAllAarch64(buildManifest([arm, x64])), {
    code: 'BMF_ERR_CROSS_ARCH',
    message: /linux\/x64\/onnxruntime_binding\.node is x86-64, the board needs AArch64 ELF/,
  });
  const newer = buildManifest([{ ...arm, path: 'x.node', glibc: '2.34', glibcxx: '3.4.29' }, arm]);
  t.equal(newer.highestGlibc?.path, 'x.node');
  t.match(newer.warnings, [
    /x\.node needs GLIBC_2\.34; boards ship glibc 2\.31/,
    /GLIBCXX_3\.4\.29/,
  ]);
});

t.test('dependencies: pinned from the lock, agent imports all shipped', async (t) => {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as Parameters<
    typeof pinnedVersions
  >[0];
  const pins = pinnedVersions(lock);
  t.same(Object.keys(pins), [...AGENT_RUNTIME_DEPENDENCIES]);
  t.notOk('better-sqlite3' in pins, 'controller-only native module stays off the board');
  t.throws(() => pinnedVersions(lock, ['no-such-package-here']), {
    code: 'BMF_ERR_CROSS_DEPENDENCY',
  });
  t.throws(() => assertImportsCovered(new Map([['agent/x.ts', ['better-sqlite3']]])), {
    code: 'BMF_ERR_CROSS_DEPENDENCY',
    message: /better-sqlite3: imported by agent\/x\.ts/,
  });
  const byFile = new Map<string, string[]>();
  for (const dir of ['agent', 'shared']) {
    const entries = readdirSync(join(REPO, dir), { recursive: true, withFileTypes: true });
    for (const e of entries.filter((e) => e.isFile() && e.name.endsWith('.ts'))) {
      const file = join(e.parentPath, e.name);
      byFile.set(file, importedPackages(readFileSync(file, 'utf8')));
    }
  }
  t.ok(byFile.size > 10, 'scanned the agent and shared sources');
  t.doesNotThrow(() => assertImportsCovered(byFile), 'every package the agent imports is shipped');
});

// --- the built package (optional: needs `node --import tsx cross/build.ts` beforehand) ---

const version = (
  JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }
).version;
const pkgDir = boardPackageDir();
const built = existsSync(join(pkgDir, 'MANIFEST.json'));
const missingPackage = `no board package at ${pkgDir} (build it with: node --import tsx cross/build.ts; or set BMFLEET_CROSS_PACKAGE)`;

t.test(
  'built package: every native file is AArch64',
  { skip: built ? false : missingPackage },
  async (t) => {
    const manifest = buildManifest(await scanNativeFiles(pkgDir));
    t.doesNotThrow(() => assertAllAarch64(manifest));
    const paths = manifest.files.map((f) => f.path);
    t.ok(paths.includes('node/bin/node'), 'ships the arm64 node binary');
    t.ok(
      paths.some((p) => p.includes('sharp-linux-arm64')),
      'ships sharp for linux/arm64',
    );
    t.ok(
      paths.some((p) => p.endsWith('linux/arm64/onnxruntime_binding.node')),
      'ships onnxruntime',
    );
    t.notOk(
      paths.some((p) => p.includes('better-sqlite3')),
      'no controller-only native module',
    );
    t.same(manifest.warnings, [], 'symbol versions fit glibc 2.31 boards');
  },
);

const probe = probeEmulator();
const emulationSkip = !built ? missingPackage : probe.ok ? false : probe.reason;
if (emulationSkip) console.log(`# emulation test skipped: ${emulationSkip}`);

t.test(
  'built package runs under qemu-aarch64',
  { skip: emulationSkip, timeout: 300_000 },
  async (t) => {
    if (!probe.ok) return;
    const emulator = probe.emulator;
    const exec = (argv: string[], env: NodeJS.ProcessEnv = process.env) => {
      const [cmd, ...args] = argv;
      const r = spawnSync(cmd!, args, { encoding: 'utf8', env, timeout: 240_000 });
      if (r.status !== 0) t.comment(`${argv.join(' ')}\n${r.stderr}`);
      return r;
    };
    const node = join(pkgDir, 'node', 'bin', 'node');
    const arch = exec(emulatedArgv(emulator, [node, '-p', 'process.arch + " " + process.version']));
    const manifest = JSON.parse(readFileSync(join(pkgDir, 'MANIFEST.json'), 'utf8')) as {
      node: string;
    };
    t.equal(arch.stdout.trim(), `arm64 v${manifest.node}`, 'the packaged node is arm64');

    const launcher = join(pkgDir, 'bin', 'bmfleet-agent');
    const env = { ...process.env, BMFLEET_AGENT_EMULATOR: emulatorPrefix(emulator) };
    const v = exec([launcher, '--version'], env);
    t.equal(v.status, 0);
    t.equal(v.stdout.trim(), `bmfleet ${version}`);

    // One simulator inference pass through the packaged agent code and arm64 onnxruntime.
    const dir = mkdtempSync(join(tmpdir(), 'bmfleet-cross-'));
    const bmodel = tinyBmodel('tiny-a');
    writeFileSync(join(dir, 'tiny-a.bmodel'), bmodel);
    const goldenPath = fileURLToPath(new URL('../fixtures/agent/golden.json', import.meta.url));
    const smoke = exec(
      withArmCpuinfo([
        launcher,
        'smoke',
        '--bmodel',
        join(dir, 'tiny-a.bmodel'),
        '--golden',
        goldenPath,
      ]),
      env,
    );
    t.equal(smoke.status, 0, 'smoke run exits 0');
    const result = JSON.parse(smoke.stdout) as SmokeResult;
    t.equal(result.arch, 'arm64', 'ran on the arm64 node');
    t.same(result.sharp, { bytes: 36, firstPixel: [200, 100, 50] }, 'arm64 sharp round trip');
    const golden = goldenInputs();
    t.same(result.labels, golden.labels, 'arm64 onnxruntime reproduces the golden labels');

    // Same model on the host's x64 onnxruntime: logits agree to float tolerance.
    const backend = createSimBackend({
      pool: createSimSessionPool(),
      clock: createSystemClock(),
      timing: 'host',
    });
    const h = await backend.load(bmodel, { digest: sha256(bmodel) });
    let maxDiff = 0;
    for (const [i, feeds] of golden.inputs.entries()) {
      const host = (await backend.infer(h, feeds)).outputs.logits?.data as Float32Array;
      host.forEach(
        (x, j) => (maxDiff = Math.max(maxDiff, Math.abs(x - (result.logits[i]?.[j] ?? NaN)))),
      );
    }
    await backend.unload(h);
    t.ok(maxDiff < 1e-4, `arm64 vs x64 logits differ by at most ${maxDiff}`);
  },
);

const vendorBmodels = vendorDir();
const libsophonSkip =
  emulationSkip ||
  (!existsSync(join(pkgDir, 'native', 'bmfleet_sophon.node'))
    ? `board package at ${pkgDir} has no libsophon binding (rebuild it)`
    : !vendorBmodels
      ? VENDOR_SKIP_REASON
      : false);

t.test(
  'built package runs a vendor BMODEL through its libsophon binding and emulator under qemu',
  { skip: libsophonSkip, timeout: 300_000 },
  async (t) => {
    if (!probe.ok) return;
    const launcher = join(pkgDir, 'bin', 'bmfleet-agent');
    const env = {
      ...process.env,
      BMFLEET_AGENT_EMULATOR: emulatorPrefix(probe.emulator),
      BMFLEET_LIBSOPHON_DIR: join(pkgDir, 'libsophon-emulator'),
    };
    const { files } = fixtureJson<{
      files: {
        file: string;
        nets: { name: string; outputs: { name: string; shape: number[] }[] }[];
      }[];
    }>('vendor-files.json');
    for (const f of files) {
      const r = spawnSync(launcher, ['smoke', '--bmrt', join(vendorBmodels!, f.file)], {
        encoding: 'utf8',
        env,
        timeout: 240_000,
      });
      t.equal(r.status, 0, `${f.file}: ${r.stderr}`);
      const result = JSON.parse(r.stdout) as BmrtSmokeResult;
      t.equal(result.arch, 'arm64', 'ran on the arm64 node');
      t.equal(result.net, f.nets[0]!.name);
      t.same(
        result.outputs.map(([name, , shape]) => [name, shape]),
        f.nets[0]!.outputs.map((o) => [o.name, o.shape]),
        `${f.file}: every output with the BMODEL's shape`,
      );
      // The "done when": bmfleet bmrt-test --json lists every net with its real shapes.
      const [cmd, ...args] = withArmCpuinfo([
        launcher,
        'bmrt-test',
        ...['--bmodel', join(vendorBmodels!, f.file), '--json', '--loops', '1'],
      ]);
      const bt = spawnSync(cmd!, args, { encoding: 'utf8', env, timeout: 240_000 });
      t.equal(bt.status, 0, `${f.file} bmrt-test: ${bt.stderr}`);
      const report = JSON.parse(bt.stdout) as {
        runtime: string;
        nets: { name: string; stages: { outputs: { name: string; shape: number[] }[] }[] }[];
      };
      t.equal(report.runtime, 'bmrt');
      t.same(
        report.nets.map((n) => [n.name, n.stages[0]!.outputs.map((o) => [o.name, o.shape])]),
        f.nets.map((n) => [n.name, n.outputs.map((o) => [o.name, o.shape])]),
        `${f.file}: bmrt-test --json under qemu lists every net and output with its shape`,
      );
    }
  },
);
