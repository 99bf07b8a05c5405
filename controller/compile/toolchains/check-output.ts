// A vendor tool's exit code is not proof of success: the BMODEL it left behind is read with the
// foundation's reader and checked against what was asked for (chip, input and output count and
// shapes) before bmfleet reports anything.
import { readFile } from 'node:fs/promises';
import { readBmodel } from '../../../shared/bmodel/index.js';
import type { Bmodel } from '../../../shared/bmodel/index.js';
import { bmfError } from '../../../shared/errors.js';
import type { ToolchainName } from './runner.js';

export interface ExpectedNet {
  readonly chip: string;
  readonly inputs: readonly { name: string; shape: readonly number[] }[];
  readonly outputs: readonly { name: string; shape: readonly number[] }[];
}

export interface CheckedBmodel {
  readonly bytes: Uint8Array;
  readonly bmodel: Bmodel;
  /** Differences that do not make the model wrong (vendor tools may rename tensors). */
  readonly warnings: readonly string[];
}

export async function readToolOutput(
  toolchain: ToolchainName,
  path: string,
  expected: ExpectedNet,
): Promise<CheckedBmodel> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch {
    throw bmfError('BMF_ERR_TOOLCHAIN_OUTPUT', { toolchain, path });
  }
  const bmodel = readBmodel(bytes);
  const problems: string[] = [];
  const warnings: string[] = [];
  if (bmodel.chip.toUpperCase() !== expected.chip.toUpperCase()) {
    problems.push(`chip is ${bmodel.chip}, expected ${expected.chip}`);
  }
  const stage = bmodel.nets[0]?.stages[0];
  if (bmodel.nets.length !== 1 || !stage) {
    problems.push(`expected one net with a stage, found ${bmodel.nets.length} nets`);
  } else {
    for (const [kind, got, want] of [
      ['input', stage.inputs, expected.inputs],
      ['output', stage.outputs, expected.outputs],
    ] as const) {
      if (got.length !== want.length) {
        problems.push(`${got.length} ${kind}s, the ONNX model has ${want.length}`);
        continue;
      }
      want.forEach((w, i) => {
        const g = got[i];
        if (!g) return;
        if (g.shape.join(',') !== w.shape.join(',')) {
          problems.push(
            `${kind} ${i} shape [${g.shape.join(',')}], expected [${w.shape.join(',')}]`,
          );
        }
        if (g.name !== w.name)
          warnings.push(`${kind} ${i} is named ${g.name}, ONNX calls it ${w.name}`);
      });
    }
  }
  if (problems.length) {
    throw bmfError('BMF_ERR_COMPILE_VALIDATION', {
      reason: `${toolchain} output ${path}: ${problems.join('; ')}`,
    });
  }
  return { bytes, bmodel, warnings };
}
