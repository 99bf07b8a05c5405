// The thin shell around vendor tools: find them (configured directory, then PATH), run one step
// with spawn (argv, never a shell), stream its output to a log file, and turn every way it can go
// wrong into a typed error. Nothing here decides what to run; the argv builders do.
import { spawn } from 'node:child_process';
import { accessSync, constants, createWriteStream, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { bmfError } from '../../../shared/errors.js';

export type ToolchainName = 'tpu-mlir' | 'tpu-nntc';
export type ToolEnv = Readonly<Record<string, string | undefined>>;

/** Where each toolchain can be configured, and the layout of its release tree. */
const CONFIG: Readonly<Record<ToolchainName, { envVar: string; subdirs: readonly string[] }>> = {
  // tpu-mlir's envsetup.sh puts python/tools on PATH; the scripts are executable.
  'tpu-mlir': { envVar: 'BMFLEET_TPU_MLIR_DIR', subdirs: ['', 'bin', 'python/tools'] },
  // tpu-nntc ships bmnetu/calibration_use_pb in bin; bmneto/ufw are Python modules run by python3.
  'tpu-nntc': { envVar: 'BMFLEET_TPU_NNTC_DIR', subdirs: ['', 'bin'] },
};

export function searchDirs(toolchain: ToolchainName, env: ToolEnv): string[] {
  const { envVar, subdirs } = CONFIG[toolchain];
  const configured = env[envVar];
  const fromConfig = configured ? subdirs.map((s) => (s ? join(configured, s) : configured)) : [];
  const fromPath = (env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  return [...fromConfig, ...fromPath];
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Absolute path of `name` in the toolchain's search dirs, or BMF_ERR_TOOLCHAIN_MISSING. */
export function findTool(toolchain: ToolchainName, name: string, env: ToolEnv): string {
  const dirs = searchDirs(toolchain, env);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  throw bmfError('BMF_ERR_TOOLCHAIN_MISSING', {
    toolchain,
    reason: `no executable ${name} in ${CONFIG[toolchain].envVar} (${env[CONFIG[toolchain].envVar] ?? 'unset'}) or PATH (${dirs.length} directories searched)`,
    tool: name,
  });
}

async function logTail(logFile: string, bytes = 2048): Promise<string> {
  const fd = await open(logFile, 'r');
  try {
    const { size } = await fd.stat();
    const start = Math.max(0, size - bytes);
    const buf = Buffer.alloc(size - start);
    await fd.read(buf, 0, buf.length, start);
    return buf.toString('utf8').trim();
  } finally {
    await fd.close();
  }
}

export interface ToolStep {
  readonly toolchain: ToolchainName;
  /** Name used in errors and the log (model_transform, model_deploy, bmneto...). */
  readonly step: string;
  /** argv[0] is the tool's bare name; it is resolved with findTool. */
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: ToolEnv;
  /** Appended to; one header line per step. */
  readonly logFile: string;
  readonly signal?: AbortSignal;
}

export async function runToolStep(s: ToolStep): Promise<void> {
  const [name, ...args] = s.argv;
  if (!name) throw bmfError('BMF_ERR_INTERNAL', { reason: `empty argv for ${s.step}` });
  const exe = findTool(s.toolchain, name, s.env);
  const log = createWriteStream(s.logFile, { flags: 'a' });
  log.write(`\n### ${s.step}: ${[exe, ...args].join(' ')}\n`);
  const result = await new Promise<{ code: number | null; signal: string | null; error?: Error }>(
    (resolve) => {
      const child = spawn(exe, args, {
        cwd: s.cwd,
        env: { ...s.env } as NodeJS.ProcessEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
        shell: false,
        ...(s.signal ? { signal: s.signal } : {}),
      });
      child.stdout.pipe(log, { end: false });
      child.stderr.pipe(log, { end: false });
      child.on('error', (error) => resolve({ code: null, signal: null, error }));
      child.on('close', (code, signal) => resolve({ code, signal }));
    },
  );
  await new Promise<void>((resolve) => log.end(resolve));
  if (s.signal?.aborted) {
    throw bmfError('BMF_ERR_ABORTED', { reason: `${s.toolchain} ${s.step} was cancelled` });
  }
  if (result.error) {
    throw bmfError(
      'BMF_ERR_TOOLCHAIN_FAILED',
      {
        toolchain: s.toolchain,
        step: s.step,
        exitCode: -1,
        reason: result.error.message,
        log: s.logFile,
      },
      { cause: result.error },
    );
  }
  if (result.code !== 0) {
    const tail = await logTail(s.logFile);
    throw bmfError('BMF_ERR_TOOLCHAIN_FAILED', {
      toolchain: s.toolchain,
      step: s.step,
      exitCode: result.code ?? `signal ${result.signal}`,
      reason: `log ${s.logFile} ends with:\n${tail}`,
      log: s.logFile,
    });
  }
}
