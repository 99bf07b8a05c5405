// A work directory for the vendor INT8 paths' tests: a fake toolchain script linked under the
// names bmfleet runs (the script picks its tool by the name it runs as), the BMODEL it writes,
// the toy ONNX model, gray 6x6 calibration images, and the environment the script reads. The
// script logs each call's argv as a JSON line; calls() reads them back.
import type { Test } from 'tap';
import { chmodSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { main } from '../../../cli/main.js';
import { writeBmodel } from '../../../shared/bmodel/index.js';
import { toyModelBytes } from './toy-model.js';

/** Only the system's tools besides the fake ones: no vendor toolchain can be found by accident. */
export const SYSTEM_PATH = '/usr/bin:/bin';

export interface Call {
  tool: string;
  argv: string[];
}

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(c, _e, cb) {
      chunks.push(Buffer.from(c));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** `bmfleet ARGV` in this process, with `env` as its whole environment. */
export async function cli(argv: string[], env: Record<string, string>) {
  const out = sink();
  const err = sink();
  const exit = await main({ argv, stdout: out.stream, stderr: err.stream, env });
  return { exit, stdout: out.text(), stderr: err.text() };
}

/** What the fake tools write as their compiled model: the toy model's shapes. */
export function toyBmodel(chip: string): Uint8Array {
  return writeBmodel({
    chip,
    nets: [
      {
        name: 'toy',
        stages: [
          {
            inputs: [{ name: 'input', dtype: 'FP32', shape: [1, 1, 6, 6] }],
            outputs: [{ name: 'logits', dtype: 'FP32', shape: [1, 3] }],
          },
        ],
      },
    ],
  });
}

export interface FakeToolchainOptions {
  /** The fake tools' script (test/fixtures/quantize/fake-*.py). */
  readonly script: string;
  /** The names it is linked as in bin/. */
  readonly tools: readonly string[];
  /** The variable that selects the option sets the script parses, and its value. */
  readonly profile: readonly [name: string, value: string];
  /** The chip named in the BMODEL the fake tools write. */
  readonly chip?: string;
  /** One calibration image's 36 gray pixels, for each image. */
  readonly calibration: readonly Buffer[];
}

export interface FakeToolchain {
  /** bin/ (the tools), calib/ (the images), out/, fake.bmodel, toy.onnx. */
  readonly dir: string;
  readonly env: Record<string, string>;
  /** The tools run so far, in order. */
  calls(): Call[];
}

export async function fakeToolchain(t: Test, o: FakeToolchainOptions): Promise<FakeToolchain> {
  const dir = t.testdir({ bin: {}, calib: {}, out: {} });
  const bin = join(dir, 'bin');
  for (const tool of o.tools) symlinkSync(o.script, join(bin, tool));
  chmodSync(o.script, 0o755);
  writeFileSync(join(dir, 'fake.bmodel'), toyBmodel(o.chip ?? 'BM1684X'));
  writeFileSync(join(dir, 'toy.onnx'), toyModelBytes());
  for (const [i, px] of o.calibration.entries()) {
    writeFileSync(
      join(dir, 'calib', `${i}.png`),
      await sharp(px, { raw: { width: 6, height: 6, channels: 1 } })
        .toColourspace('b-w')
        .png()
        .toBuffer(),
    );
  }
  const argvLog = join(dir, 'argv.log');
  const env = {
    PATH: `${bin}:${SYSTEM_PATH}`,
    [o.profile[0]]: o.profile[1],
    BMF_FAKE_BMODEL: join(dir, 'fake.bmodel'),
    BMF_FAKE_ARGV: argvLog,
  };
  const calls = (): Call[] =>
    existsSync(argvLog)
      ? readFileSync(argvLog, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Call)
      : [];
  return { dir, env, calls };
}
