// One way for tests to start Debian's Chromium through playwright-core.
//
// A browser's first start on a fresh, loaded machine (profile creation, font cache, two test
// files and their children beside it on two cores) can take far longer than on a quiet one, so
// the launch waits for the browser to be ready rather than for a short fixed time, and a launch
// that times out is tried once more before the test fails with both attempts' messages.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Flags for a quiet, offline, sandbox-less headless run (CI containers have no user namespaces). */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** `false` when Chromium is installed, else the reason a browser test skips. */
export function chromiumSkip(): false | string {
  return existsSync(CHROMIUM)
    ? false
    : `${CHROMIUM} is absent (Debian package "chromium"); the browser test needs a real Chromium`;
}

export interface LaunchOptions {
  /** Per attempt; a generous bound, not an expectation. */
  timeoutMs?: number;
  attempts?: number;
}

export async function launchChromium(opts: LaunchOptions = {}): Promise<Browser> {
  const attempts = opts.attempts ?? 2;
  const timeout = opts.timeoutMs ?? 120_000;
  const failures: string[] = [];
  for (let i = 0; i < attempts; i++) {
    try {
      return await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS], timeout });
    } catch (err) {
      failures.push(`attempt ${i + 1}: ${(err as Error).message.slice(0, 2_000)}`);
    }
  }
  throw new Error(`Chromium did not start (${attempts} attempts)\n${failures.join('\n')}`);
}
