// The agent's pinned trust root: where it came from (the config's `root` field or `rootFile`),
// reading it, and naming it in the trust errors a refused signature raises.
import { readFile } from 'node:fs/promises';
import { bmfError, isBmfError } from '../shared/errors.js';
import type { BmfError } from '../shared/errors.js';
import { parseRoot, parseSignedRoot } from '../shared/trust/root.js';
import type { Root } from '../shared/trust/root.js';
import type { AgentConfig } from './config.js';

const SIGNER_ERRORS: readonly string[] = [
  'BMF_ERR_TRUST_UNKNOWN_KEY',
  'BMF_ERR_TRUST_THRESHOLD',
  'BMF_ERR_TRUST_BAD_SIGNATURE',
];

/** Where the pinned root came from, as trust errors name it. */
export function rootSource(config: Pick<AgentConfig, 'root' | 'rootFile'>): string {
  return config.root !== undefined ? 'the root field of the agent config' : config.rootFile;
}

/** A signature the pinned root does not accept: say which root was read and what to do. */
export function withTrustContext(e: BmfError, source: string): BmfError {
  if (!SIGNER_ERRORS.includes(e.code) || e.details.lookedIn !== undefined) return e;
  return bmfError(
    e.code,
    {
      ...e.details,
      lookedIn: source,
      hint:
        'the controller signs with keys this root does not list: pin the root of the ' +
        "controller's keystore (bmfleet device add --out writes it into agent.json)",
    },
    { cause: e },
  );
}

/** The pinned root: embedded in the config (`root`) or read from `rootFile`. */
export async function loadRoot(config: Pick<AgentConfig, 'root' | 'rootFile'>): Promise<Root> {
  const where = rootSource(config);
  try {
    const json = (config.root ?? JSON.parse(await readFile(config.rootFile, 'utf8'))) as Record<
      string,
      unknown
    >;
    return 'signed' in json ? parseSignedRoot(json).root : parseRoot(json);
  } catch (e) {
    if (isBmfError(e)) throw bmfError(e.code, { ...e.details, lookedIn: where }, { cause: e });
    throw bmfError('BMF_ERR_TRUST_ROOT_INVALID', {
      reason: (e as Error).message,
      lookedIn: where,
      hint: 'bmfleet device add --out agent.json writes a config with the root embedded',
    });
  }
}
