// An in-process controller on ephemeral ports over a fresh data dir with its keystore, and the
// operator's request headers: the set-up the fleet benchmarks share. The caller stops it and
// removes `dataDir`.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadControllerConfig } from '../../controller/config.js';
import { startController, type ControllerHandle } from '../../controller/main.js';
import { createKeystore } from '../../shared/trust/keystore.js';

export interface BenchController {
  readonly ctl: ControllerHandle;
  readonly dataDir: string;
  /** The operator token. */
  readonly token: string;
  /** Authorization and JSON content type for the REST API. */
  readonly headers: Readonly<Record<string, string>>;
}

export async function startBenchController(dirPrefix: string): Promise<BenchController> {
  const dataDir = await mkdtemp(join(tmpdir(), dirPrefix));
  await createKeystore(join(dataDir, 'keys')).init({ now: new Date() });
  const config = loadControllerConfig({
    flags: { dataDir, 'api.port': 0, 'broker.embedded.port': 0, 'rollout.tickMs': 200 },
  });
  const ctl = await startController(config, { logger: pino({ level: 'warn' }) });
  const token =
    ctl.generatedToken ?? (await readFile(join(dataDir, 'operator-token'), 'utf8')).trim();
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  return { ctl, dataDir, token, headers };
}
