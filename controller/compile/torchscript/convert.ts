// TorchScript (.pt) input: hand the model to the user's own PyTorch (script.ts) to run it on
// bmfleet's validation inputs and export ONNX, then read what it wrote. Everything PyTorch can get
// wrong comes back as a typed error saying what to do; nothing here interprets the model itself.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { bmfError } from '../../../shared/errors.js';
import { decodeNpy, encodeNpy } from '../../../shared/npy.js';
import { makeTensor } from '../../../shared/tensor.js';
import type { Tensor } from '../../../shared/tensor.js';
import type { PreprocessSpec } from '../../../shared/preprocess/index.js';
import { randomFeeds } from '../test-inputs.js';
import type { Feeds } from '../test-inputs.js';
import { compareWithReferences } from '../validate.js';
import type { ValidationResult } from '../validate.js';
import { TORCHSCRIPT_EXPORT_SCRIPT } from './script.js';

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const TORCH_EXTENSIONS = new Set(['.pt', '.pth', '.torchscript']);

/** A PyTorch file: a zip archive (what torch.jit.save and torch.save write) or a .pt/.pth name. */
export function isTorchFile(path: string | undefined, bytes: Uint8Array): boolean {
  if (ZIP_MAGIC.every((b, i) => bytes[i] === b)) return true;
  return path !== undefined && TORCH_EXTENSIONS.has(extname(path).toLowerCase());
}

/** The interpreter: $BMFLEET_PYTHON, else python3 on PATH. */
export function pythonFor(env: Readonly<Record<string, string | undefined>>): string {
  return env.BMFLEET_PYTHON || 'python3';
}

/** How to make a TorchScript file from an eager model, with the user's own input shapes. */
export function traceHint(shapes: readonly (readonly number[])[] = [[1, 3, 224, 224]]): string {
  const zeros = shapes.map((s) => `torch.zeros(${s.join(', ')})`);
  const example = zeros.length === 1 ? (zeros[0] ?? '') : `(${zeros.join(', ')})`;
  return (
    'load the weights into your nn.Module, call model.eval(), then save a trace: ' +
    `torch.jit.trace(model, ${example}).save('model.pt') (torch.jit.script(model) also works)`
  );
}

export interface TorchProvenance {
  readonly format: 'torchscript';
  readonly path: string;
  readonly sha256: string;
  readonly torchVersion: string;
  readonly opset: number;
  /** The intermediate ONNX bmfleet exported and compiled. */
  readonly onnxPath: string;
  readonly onnxSha256: string;
}

export interface TorchConversion {
  readonly onnx: Uint8Array;
  /** The validation inputs, keyed by the exported ONNX's input names. */
  readonly feeds: Feeds[];
  /** The TorchScript model's own outputs on each of `feeds`, keyed by ONNX output name. */
  readonly references: Record<string, Tensor<'float32'>>[];
  readonly provenance: TorchProvenance;
}

export interface ConvertOptions {
  readonly modelPath: string;
  readonly bytes: Uint8Array;
  readonly inputShapes: readonly (readonly number[])[] | undefined;
  /** Validation inputs positionally (one record per sample, keys in input order). */
  readonly feeds: readonly Feeds[];
  readonly workDir: string;
  readonly onnxPath: string;
  readonly opset?: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
}

interface ScriptResult {
  readonly error?: string;
  readonly reason?: string;
  readonly kind?: string;
  readonly inputs?: string[];
  readonly outputs?: string[];
  readonly torch?: string;
  readonly opset?: number;
  readonly written?: number;
}

/** Refuse a TorchScript model without shapes before starting Python. */
export function requireTorchShapes(
  path: string,
  shapes: readonly (readonly number[])[] | undefined,
): readonly (readonly number[])[] {
  if (shapes?.length) return shapes;
  throw bmfError('BMF_ERR_TORCHSCRIPT_SHAPES', {
    path,
    reason:
      'a TorchScript file does not record the shapes it was traced with (its inputs are dynamic), ' +
      "so say them, e.g. --input-shapes '[[1,3,224,224]]'",
  });
}

function runPython(
  python: string,
  args: readonly string[],
  env: ConvertOptions['env'],
  signal: AbortSignal | undefined,
): Promise<{ code: number | null; stdout: string; stderr: string; spawnError?: Error }> {
  return new Promise((done) => {
    const child = spawn(python, [...args], {
      env: { ...env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: false,
      ...(signal ? { signal } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => {
      // Keep the tail only: PyTorch's exporter can be verbose.
      stderr = (stderr + d.toString('utf8')).slice(-8192);
    });
    child.on('error', (spawnError) => done({ code: null, stdout, stderr, spawnError }));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

function parseResult(stdout: string): ScriptResult | undefined {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('BMFLEET_RESULT '));
  if (!line) return undefined;
  try {
    return JSON.parse(line.slice('BMFLEET_RESULT '.length)) as ScriptResult;
  } catch {
    return undefined;
  }
}

function failure(o: ConvertOptions, python: string, r: ScriptResult): never {
  switch (r.error) {
    case 'torch_missing':
      throw bmfError('BMF_ERR_TORCH_MISSING', {
        python,
        reason: r.reason ?? 'import torch failed',
        hint: 'install PyTorch (Debian: apt-get install python3-torch) or set BMFLEET_PYTHON to an interpreter that has it',
      });
    case 'not_torchscript':
      throw bmfError('BMF_ERR_NOT_TORCHSCRIPT', {
        path: o.modelPath,
        kind: r.kind ?? 'unknown',
        hint: traceHint(o.inputShapes),
      });
    case 'input_count':
      throw bmfError('BMF_ERR_TORCHSCRIPT_SHAPES', {
        path: o.modelPath,
        reason: `forward() takes ${r.inputs?.length ?? '?'} input(s) (${(r.inputs ?? []).join(', ')}) but --input-shapes gives ${o.inputShapes?.length ?? 0}`,
      });
    default:
      throw bmfError('BMF_ERR_TORCHSCRIPT_EXPORT', {
        path: o.modelPath,
        reason: `${r.error ?? 'failed'}: ${r.reason ?? 'no reason given'} (PyTorch ${r.torch ?? '?'}${r.opset ? `, opset ${r.opset}` : ''})`,
      });
  }
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export async function convertTorchScript(o: ConvertOptions): Promise<TorchConversion> {
  const shapes = requireTorchShapes(o.modelPath, o.inputShapes);
  const python = pythonFor(o.env);
  await mkdir(o.workDir, { recursive: true });
  const samples = await Promise.all(
    o.feeds.map(async (feed, s) => {
      const inputs = await Promise.all(
        Object.values(feed).map(async (t, k) => {
          const path = join(o.workDir, `in_${s}_${k}.npy`);
          await writeFile(path, encodeNpy(t));
          return path;
        }),
      );
      // Output paths for up to 64 outputs; the script writes as many as the model returns.
      const outputs = Array.from({ length: 64 }, (_, j) => join(o.workDir, `out_${s}_${j}.npy`));
      return { inputs, outputs };
    }),
  );
  const request = join(o.workDir, 'request.json');
  await writeFile(
    request,
    JSON.stringify({
      model: resolve(o.modelPath),
      onnx: resolve(o.onnxPath),
      shapes,
      samples,
      ...(o.opset ? { opset: o.opset } : {}),
    }),
  );
  const run = await runPython(python, ['-c', TORCHSCRIPT_EXPORT_SCRIPT, request], o.env, o.signal);
  if (o.signal?.aborted) throw bmfError('BMF_ERR_ABORTED', { reason: 'TorchScript export' });
  if (run.spawnError) {
    throw bmfError(
      'BMF_ERR_PYTHON_MISSING',
      {
        python,
        reason: run.spawnError.message,
        hint: 'install python3 and PyTorch (Debian: apt-get install python3 python3-torch) or set BMFLEET_PYTHON to an interpreter that has torch',
      },
      { cause: run.spawnError },
    );
  }
  const result = parseResult(run.stdout);
  if (!result) {
    throw bmfError('BMF_ERR_TORCHSCRIPT_EXPORT', {
      path: o.modelPath,
      reason: `${python} exited with ${run.code} without a result: ${run.stderr.trim().slice(-1500)}`,
    });
  }
  if (result.error) failure(o, python, result);
  const inputNames = result.inputs ?? [];
  const outputNames = result.outputs ?? [];
  const feeds = o.feeds.map((feed) =>
    Object.fromEntries(Object.values(feed).map((t, k) => [inputNames[k] ?? `input_${k}`, t])),
  );
  const references = await Promise.all(
    samples.map(async (s) => {
      const out: Record<string, Tensor<'float32'>> = {};
      for (const [j, name] of outputNames.entries()) {
        const a = decodeNpy(new Uint8Array(await readFile(s.outputs[j] ?? '')));
        out[name] = makeTensor('float32', a.shape, Float32Array.from(a.values));
      }
      return out;
    }),
  );
  const onnx = new Uint8Array(await readFile(o.onnxPath));
  return {
    onnx,
    feeds,
    references,
    provenance: {
      format: 'torchscript',
      path: o.modelPath,
      sha256: sha256(o.bytes),
      torchVersion: result.torch ?? 'unknown',
      opset: result.opset ?? 0,
      onnxPath: o.onnxPath,
      onnxSha256: sha256(onnx),
    },
  };
}

export interface TorchToOnnxOptions {
  readonly modelPath: string;
  readonly inputShapes: readonly (readonly number[])[] | undefined;
  readonly preprocess: PreprocessSpec;
  /** The ONNX goes to <outDir>/<stem>.onnx, PyTorch's scratch files to <outDir>/work-torchscript. */
  readonly outDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly opset?: number;
  readonly signal?: AbortSignal;
}

/**
 * For the commands that take an ONNX file (quantize, umodel export): export the TorchScript model,
 * check the export against PyTorch's own outputs at model_transform's 0.99,0.99 and return the
 * ONNX path.
 */
export async function torchScriptToOnnx(
  o: TorchToOnnxOptions,
): Promise<{ onnxPath: string; conversion: TorchConversion; exportCheck: ValidationResult }> {
  const shapes = requireTorchShapes(o.modelPath, o.inputShapes);
  const stem = basename(o.modelPath, extname(o.modelPath)).replace(/[^A-Za-z0-9_.-]/g, '_');
  const onnxPath = join(o.outDir, `${stem || 'model'}.onnx`);
  const bytes = new Uint8Array(await readFile(o.modelPath));
  const feeds = randomFeeds(
    shapes.map((shape, k) => ({ name: `input_${k}`, shape })),
    o.preprocess,
    4,
    1,
  );
  const conversion = await convertTorchScript({
    modelPath: o.modelPath,
    bytes,
    inputShapes: shapes,
    feeds,
    workDir: join(o.outDir, 'work-torchscript'),
    onnxPath,
    ...(o.opset ? { opset: o.opset } : {}),
    env: o.env,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const exportCheck = await compareWithReferences(
    conversion.onnx,
    conversion.feeds,
    conversion.references,
    { cosine: 0.99, euclidean: 0.99 },
  );
  if (!exportCheck.pass) {
    throw bmfError('BMF_ERR_TORCHSCRIPT_EXPORT', {
      path: o.modelPath,
      reason: `the ONNX export differs from the TorchScript outputs: ${exportCheck.outputs
        .map((x) => `${x.name} cosine ${x.cosine}, euclidean ${x.euclidean}`)
        .join('; ')}`,
    });
  }
  return { onnxPath, conversion, exportCheck };
}
