// `bmfleet version` (also `bmfleet --version` and `-V`): the version in package.json.
import { readFileSync } from 'node:fs';
import { parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';

export const USAGE = 'usage: bmfleet version   (or bmfleet --version, bmfleet -V)';

/**
 * The package version; the source tree and dist/ sit at different depths under the root, and the
 * board package (cross/build.ts) names itself bmfleet-agent.
 */
export function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if ((pkg.name === 'bmfleet' || pkg.name === 'bmfleet-agent') && pkg.version)
        return pkg.version;
    } catch {
      // not at this depth
    }
  }
  return 'unknown';
}

export const run: CommandRun = async (ctx) => {
  parseCommandArgs(ctx.argv, {}, USAGE, false);
  ctx.stdout.write(`bmfleet ${packageVersion()}\n`);
  return 0;
};
