// The bmfleet CLI run in process through its real dispatcher (cli/main.ts), with what it writes
// captured: the set-up the command tests share.
import { PassThrough } from 'node:stream';
import { main } from '../cli/main.js';

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs `bmfleet ...argv` with exactly `env` as its environment. */
export async function runCli(
  argv: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await main({ argv, stdout, stderr, env });
  return { code, out: Buffer.concat(out).toString(), err: Buffer.concat(err).toString() };
}
