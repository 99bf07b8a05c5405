// Makes sure the MobileNetV2 sample model exists, generating it with Debian's python3-torch when
// it does not. The model is ~14 MB and gitignored, and CI does not install torch, so callers
// (tests, benchmarks) must treat "not available" as a reason to skip, printing the reason.
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const MOBILENETV2_PATH = fileURLToPath(new URL('./mobilenetv2.onnx', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./make_model.py', import.meta.url));
// Debian's interpreter carries python3-torch; a pyenv python3 earlier on PATH does not.
const DEFAULT_PYTHON = '/usr/bin/python3';

export type MobileNetV2Availability =
  { readonly path: string } | { readonly path: undefined; readonly reason: string };

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** The model's path, generating it if needed, or why it cannot be had. */
export async function locateMobileNetV2(
  options: { readonly python?: string; readonly path?: string; readonly signal?: AbortSignal } = {},
): Promise<MobileNetV2Availability> {
  const target = options.path ?? MOBILENETV2_PATH;
  if (await exists(target)) return { path: target };
  const python = options.python ?? process.env['BMFLEET_PYTHON'] ?? DEFAULT_PYTHON;
  if (!(await exists(python))) {
    return { path: undefined, reason: `${python} not found (set BMFLEET_PYTHON)` };
  }
  try {
    await run(python, ['-c', 'import torch, torchvision']);
  } catch {
    return {
      path: undefined,
      reason: `${python} lacks torch/torchvision (Debian python3-torch, python3-torchvision)`,
    };
  }
  try {
    await run(python, [SCRIPT, target], {
      timeout: 300_000,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (e) {
    return { path: undefined, reason: `make_model.py failed: ${(e as Error).message}` };
  }
  return (await exists(target))
    ? { path: target }
    : { path: undefined, reason: `make_model.py did not write ${target}` };
}

/** Path of examples/mobilenetv2/mobilenetv2.onnx, or undefined when it cannot be generated. */
export async function ensureMobileNetV2(): Promise<string | undefined> {
  return (await locateMobileNetV2()).path;
}
