// `bmfleet bundle build|sign|verify|inspect`: thin shell over shared/bundle and shared/trust.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { bmfError, isBmfError, type ErrorCode } from '../../shared/errors.js';
import { buildBundle, type BuildInput } from '../../shared/bundle/build.js';
import { readBundleDir, signBundleDir, verifyBundleDir } from '../../shared/bundle/dir.js';
import { readJsonLimited } from '../../shared/bundle/layout.js';
import { CHIPS, type Chip } from '../../shared/bundle/manifest.js';
import { createKeystore } from '../../shared/trust/keystore.js';
import { parseSignedRoot } from '../../shared/trust/root.js';
import { numberFlag, parseCommandArgs } from '../args.js';
import type { CommandRun } from '../command.js';

export const USAGE = `usage:
  bmfleet bundle build  --bmodel F [--golden F] [--labels F] [--extra F]... --manifest partial.json --out DIR
  bmfleet bundle sign   DIR [--keys KEYDIR]
  bmfleet bundle verify DIR --root root.json [--chip ${CHIPS.join('|')}] [--installed-sequence N]
  bmfleet bundle inspect DIR [--json]`;

function parse(argv: readonly string[]) {
  return parseCommandArgs(
    argv,
    {
      bmodel: { type: 'string' },
      golden: { type: 'string' },
      labels: { type: 'string' },
      extra: { type: 'string', multiple: true },
      manifest: { type: 'string' },
      out: { type: 'string' },
      keys: { type: 'string' },
      root: { type: 'string' },
      chip: { type: 'string' },
      'installed-sequence': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    USAGE,
  );
}

const SIGNER_ERRORS: readonly ErrorCode[] = [
  'BMF_ERR_TRUST_UNKNOWN_KEY',
  'BMF_ERR_TRUST_THRESHOLD',
  'BMF_ERR_TRUST_BAD_SIGNATURE',
];

type Values = ReturnType<typeof parse>['values'];

function need(value: string | undefined, what: string): string {
  if (!value) throw bmfError('BMF_ERR_USAGE', { reason: `${what} is required\n${USAGE}` });
  return value;
}

function chipFlag(raw: string | undefined): Chip | undefined {
  if (raw === undefined) return undefined;
  if (!(CHIPS as readonly string[]).includes(raw)) {
    throw bmfError('BMF_ERR_CHIP_UNKNOWN', { chip: raw, known: CHIPS.join(', ') });
  }
  return raw as Chip;
}

async function build(values: Values): Promise<string> {
  const files: BuildInput[] = [{ role: 'bmodel', source: need(values.bmodel, '--bmodel') }];
  if (values.golden) files.push({ role: 'golden', source: values.golden });
  if (values.labels) files.push({ role: 'labels', source: values.labels });
  for (const extra of values.extra ?? []) files.push({ role: 'extra', source: extra });
  const partial = await readJsonLimited(need(values.manifest, '--manifest'));
  const outDir = need(values.out, '--out');
  const m = await buildBundle({ files, partial, outDir, now: new Date() });
  return `built ${m.name} ${m.version} (sequence ${m.sequence}) in ${outDir}: ${m.files.length} files\n`;
}

export const run: CommandRun = async (ctx) => {
  const { values, positionals } = parse(ctx.argv);
  const [action, dir] = positionals;
  const out = (s: string) => ctx.stdout.write(s);
  switch (action) {
    case 'build':
      out(await build(values));
      return 0;
    case 'sign': {
      const keysDir = values.keys ?? ctx.env.BMFLEET_KEYS_DIR ?? 'keys';
      const keys = createKeystore(keysDir);
      const { digest } = await signBundleDir(need(dir, 'DIR'), await keys.signers('bundle'));
      out(
        `signed ${dir}: digest ${digest}\n` +
          `(with the keys in ${resolve(keysDir)}: a controller accepts it when started with --keys-dir ${keysDir})\n`,
      );
      return 0;
    }
    case 'verify': {
      const rootFile = need(values.root, '--root');
      const { root } = parseSignedRoot(await readFile(rootFile, 'utf8'));
      const v = await verifyBundleDir(need(dir, 'DIR'), {
        root,
        chip: chipFlag(values.chip),
        installedSequence: numberFlag('installed-sequence', values['installed-sequence'], {
          integer: true,
          min: 0,
        }),
        now: new Date(),
      }).catch((e: unknown) => {
        if (!isBmfError(e) || !SIGNER_ERRORS.includes(e.code)) throw e;
        throw bmfError(
          e.code,
          {
            ...e.details,
            lookedIn: resolve(rootFile),
            hint: 'verify against the root.json of the keystore that signed the bundle (bundle sign --keys DIR writes DIR/root.json)',
          },
          { cause: e },
        );
      });
      const m = v.manifest;
      out(`OK ${m.name} ${m.version} sequence ${m.sequence} digest ${v.digest}\n`);
      return 0;
    }
    case 'inspect': {
      const info = await readBundleDir(need(dir, 'DIR'));
      if (values.json) {
        out(`${JSON.stringify(info, null, 2)}\n`);
        return 0;
      }
      const m = info.manifest;
      const lines = [
        `${m.name} ${m.version} sequence ${m.sequence} (${m.precision}, runtime ${m.runtime})`,
        `chips    ${m.chips.join(', ')}`,
        `created  ${m.created}  expires ${m.expires}`,
        `source   ${m.provenance.sourceModelSha256} (${m.provenance.toolchain} ${m.provenance.toolchainVersion})`,
        ...m.files.map(
          (f) => `file     ${f.role.padEnd(7)} ${f.path} ${f.size} B sha256 ${f.sha256}`,
        ),
        info.signatures
          ? `signed   by ${info.signatures.map((s) => s.keyid).join(', ')}; digest ${info.digest}`
          : 'signed   no (run bmfleet bundle sign)',
      ];
      out(`${lines.join('\n')}\n`);
      return 0;
    }
    default:
      throw bmfError('BMF_ERR_USAGE', { reason: USAGE });
  }
};
