// Which npm packages go into the board package, at which versions. The agent's runtime
// dependencies only: controller-only packages (better-sqlite3, aedes, the swagger UI) and
// build-time ones (node-addon-api) stay out, so no controller native module reaches a board.
// Versions come from the repository's package-lock.json so the board runs what the tests ran.
import { bmfError } from '../shared/errors.js';

export const AGENT_RUNTIME_DEPENDENCIES = [
  '@datadog/sketches-js',
  '@sinclair/typebox',
  'fastify',
  'flatbuffers',
  'mqtt',
  'onnxruntime-node',
  'pino',
  'prom-client',
  'protobufjs',
  'sharp',
  'systeminformation',
] as const;

interface LockFile {
  readonly packages?: Readonly<Record<string, { readonly version?: string }>>;
}

/** name -> exact version, from package-lock.json (lockfileVersion 2 or 3 `packages` map). */
export function pinnedVersions(
  lock: LockFile,
  names: readonly string[] = AGENT_RUNTIME_DEPENDENCIES,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const version = lock.packages?.[`node_modules/${name}`]?.version;
    if (!version) {
      throw bmfError('BMF_ERR_CROSS_DEPENDENCY', {
        name,
        reason: 'not in package-lock.json: install it in the repository first',
      });
    }
    out[name] = version;
  }
  return out;
}

/** The package a bare import specifier names: `@scope/pkg/sub` -> `@scope/pkg`, `pkg/sub` -> `pkg`. */
export function packageOfSpecifier(spec: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) return undefined;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const IMPORT_RE = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g;

/** Bare packages a source file imports at run time (type-only imports are erased by tsc). */
export function importedPackages(source: string): string[] {
  const found = new Set<string>();
  for (const line of source.split('\n')) {
    if (/^\s*import\s+type\b/.test(line) || /^\s*export\s+type\b/.test(line)) continue;
    for (const m of line.matchAll(IMPORT_RE)) {
      const pkg = packageOfSpecifier(m[1] ?? '');
      if (pkg) found.add(pkg);
    }
  }
  return [...found].sort();
}

/**
 * Throws BMF_ERR_CROSS_DEPENDENCY when agent code imports a package the board package would not
 * carry: on the board that import would fail at start-up, far from the build that caused it.
 */
export function assertImportsCovered(
  importsByFile: ReadonlyMap<string, readonly string[]>,
  shipped: readonly string[] = AGENT_RUNTIME_DEPENDENCIES,
): void {
  for (const [file, pkgs] of importsByFile) {
    for (const pkg of pkgs) {
      if (!shipped.includes(pkg)) {
        throw bmfError('BMF_ERR_CROSS_DEPENDENCY', {
          name: pkg,
          reason: `imported by ${file} but not in AGENT_RUNTIME_DEPENDENCIES (cross/deps.ts)`,
        });
      }
    }
  }
}
