// The CLI's shell around the controller's typed API client (controller/api/client.ts): base
// URL from --url, BMFLEET_URL or http://127.0.0.1:8480; operator token from --token,
// BMFLEET_TOKEN, or the token file the controller wrote into its data dir (BMFLEET_DATA_DIR,
// default ./.bmfleet/controller). API errors come back as BmfError with the server's code, so
// `bmfleet` exits with it. Also the table and time formatting every command shares.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bmfError } from '../shared/errors.js';
import { createControllerClient, type ControllerClient } from '../controller/api/client.js';

export const DEFAULT_URL = 'http://127.0.0.1:8480';
export const DEFAULT_DATA_DIR = './.bmfleet/controller';

export type { ControllerClient } from '../controller/api/client.js';

export interface ClientOptions {
  readonly url?: string | undefined;
  readonly token?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The operator token the controller wrote into its data dir, if readable here. */
export function readTokenFileFor(env: ClientOptions['env']): string | undefined {
  const path = join(env.BMFLEET_DATA_DIR ?? DEFAULT_DATA_DIR, 'operator-token');
  try {
    return readFileSync(path, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function createApiClient(opts: ClientOptions): ControllerClient {
  return createControllerClient({
    baseUrl: opts.url ?? opts.env.BMFLEET_URL ?? DEFAULT_URL,
    token: opts.token ?? opts.env.BMFLEET_TOKEN ?? readTokenFileFor(opts.env),
  });
}

/**
 * Fixed-width text table for humans (`--json` prints the API's JSON instead). Every command's
 * tables share one header style: upper case, units after the name (`P95 MS`).
 */
export function formatTable(
  given: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const headers = given.map((h) => h.toUpperCase());
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export const shortDigest = (d: string | undefined): string => (d ? d.slice(0, 12) : '-');

export const formatTime = (ms: number | null | undefined): string =>
  ms ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';

/** Options every controller-facing command accepts (node:util parseArgs shape). */
export const CLIENT_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

export function clientFrom(
  values: { url?: string | undefined; token?: string | undefined },
  env: ClientOptions['env'],
): ControllerClient {
  return createApiClient({ url: values.url, token: values.token, env });
}

/** `key=value` flags into a record; BMF_ERR_USAGE naming the bad one. */
export function parseTags(
  raw: readonly string[] | undefined,
  flag = '--tag',
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of raw ?? []) {
    const at = t.indexOf('=');
    if (at < 1) throw bmfError('BMF_ERR_USAGE', { reason: `${flag} ${t}: expected key=value` });
    out[t.slice(0, at)] = t.slice(at + 1);
  }
  return out;
}

export function writeJson(out: NodeJS.WritableStream, value: unknown): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}
