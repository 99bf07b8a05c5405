import { readFileSync } from 'node:fs';
import type { CommandRun } from '../main.js';

export const run: CommandRun = async (ctx) => {
  const pkgUrl = new URL('../../package.json', import.meta.url);
  // dist/cli/commands -> package root is one level further up than in the source tree.
  let text: string;
  try {
    text = readFileSync(pkgUrl, 'utf8');
  } catch {
    text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
  }
  const pkg = JSON.parse(text) as { version: string };
  ctx.stdout.write(`bmfleet ${pkg.version}\n`);
  return 0;
};
