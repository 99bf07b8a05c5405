// Configuration loading shared by the controller and the agent: defaults < file < environment <
// flags, validated against a TypeBox schema at the edge, then deep-frozen. A bad value names the
// field by its dotted path so a user can find it in the file, the variable or the flag.
import { readFileSync } from 'node:fs';
import type { Static, TObject, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { bmfError } from '../errors.js';

export interface LoadConfigOptions {
  /** Path of a JSON config file; omitted means no file. */
  readonly file?: string | undefined;
  /** Environment to read; variables are `${envPrefix}_${PATH}` (e.g. BMFLEET_API_LISTEN). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly envPrefix?: string;
  /** Flags as dotted paths (`{ 'api.listen': '0.0.0.0:8080' }`); strings are coerced by schema. */
  readonly flags?: Readonly<Record<string, unknown>>;
}

type Json = Record<string, unknown>;

function isPlainObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const prev = out[k];
    out[k] = isPlainObject(prev) && isPlainObject(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

export function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v as Json)) deepFreeze(child);
  }
  return v;
}

function setPath(target: Json, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (!isPlainObject(next)) node[key] = {};
    node = node[key] as Json;
  }
  node[path[path.length - 1] as string] = value;
}

function schemaAt(schema: TSchema, path: readonly string[]): TSchema | undefined {
  let s: TSchema | undefined = schema;
  for (const key of path) {
    const props = (s as TObject | undefined)?.properties as Record<string, TSchema> | undefined;
    s = props?.[key];
    if (!s) return undefined;
  }
  return s;
}

/** Coerce a string (from env or argv) to what the schema expects at that path. */
function coerce(schema: TSchema | undefined, raw: unknown, field: string): unknown {
  if (typeof raw !== 'string' || !schema) return raw;
  const type = (schema as { type?: string }).type;
  if (type === 'number' || type === 'integer') {
    const n = Number(raw);
    if (raw.trim() === '' || Number.isNaN(n)) {
      throw bmfError('BMF_ERR_CONFIG_INVALID', {
        field,
        reason: `expected a number, got "${raw}"`,
      });
    }
    return n;
  }
  if (type === 'boolean') {
    if (['true', '1', 'yes'].includes(raw)) return true;
    if (['false', '0', 'no'].includes(raw)) return false;
    throw bmfError('BMF_ERR_CONFIG_INVALID', {
      field,
      reason: `expected true or false, got "${raw}"`,
    });
  }
  if (type === 'array' || type === 'object') {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      throw bmfError('BMF_ERR_CONFIG_INVALID', { field, reason: `expected JSON ${type}` });
    }
  }
  return raw;
}

function toEnvName(prefix: string, path: readonly string[]): string {
  const parts = path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase());
  return [prefix, ...parts].join('_');
}

/** Every leaf path of an object schema (used to map environment variables). */
function leafPaths(schema: TSchema, prefix: string[] = []): string[][] {
  const props = (schema as TObject).properties as Record<string, TSchema> | undefined;
  if ((schema as { type?: string }).type !== 'object' || !props) return [prefix];
  return Object.entries(props).flatMap(([k, s]) => leafPaths(s, [...prefix, k]));
}

function readFileJson(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw bmfError('BMF_ERR_CONFIG_UNREADABLE', { path: file, reason: (e as Error).message });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw bmfError('BMF_ERR_CONFIG_UNREADABLE', { path: file, reason: (e as Error).message });
  }
  if (!isPlainObject(parsed)) {
    throw bmfError('BMF_ERR_CONFIG_INVALID', { field: '(root)', reason: 'expected a JSON object' });
  }
  return parsed;
}

/** Validate a plain value against a schema; throw BMF_ERR_CONFIG_INVALID naming the first bad field. */
export function validateConfig<S extends TObject>(schema: S, value: unknown): Static<S> {
  const withDefaults = Value.Default(schema, structuredClone(value)) as unknown;
  if (!Value.Check(schema, withDefaults)) {
    const first = Value.Errors(schema, withDefaults).First();
    const field = first?.path ? first.path.replace(/^\//, '').replace(/\//g, '.') : '(root)';
    throw bmfError('BMF_ERR_CONFIG_INVALID', {
      field: field || '(root)',
      reason: first?.message ?? 'invalid',
    });
  }
  return withDefaults as Static<S>;
}

export function loadConfig<S extends TObject>(
  schema: S,
  options: LoadConfigOptions = {},
): Readonly<Static<S>> {
  let merged: Json = options.file ? readFileJson(options.file) : {};

  if (options.env && options.envPrefix) {
    const fromEnv: Json = {};
    for (const path of leafPaths(schema)) {
      const name = toEnvName(options.envPrefix, path);
      const raw = options.env[name];
      if (raw !== undefined) setPath(fromEnv, path, coerce(schemaAt(schema, path), raw, name));
    }
    merged = deepMerge(merged, fromEnv);
  }

  if (options.flags) {
    const fromFlags: Json = {};
    for (const [dotted, raw] of Object.entries(options.flags)) {
      if (raw === undefined) continue;
      const path = dotted.split('.');
      setPath(fromFlags, path, coerce(schemaAt(schema, path), raw, `--${dotted}`));
    }
    merged = deepMerge(merged, fromFlags);
  }

  return deepFreeze(validateConfig(schema, merged));
}
