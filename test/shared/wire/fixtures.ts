// Loads the wire fixtures (test/fixtures/wire/*.json); bytes are written as { "$base64": "..." }.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WireMessageType } from '../../../shared/wire/schema.js';

export const fixtureDir = fileURLToPath(new URL('../../fixtures/wire/', import.meta.url));

function revive(_key: string, v: unknown): unknown {
  if (v && typeof v === 'object' && '$base64' in v) {
    return new Uint8Array(Buffer.from(String((v as { $base64: string }).$base64), 'base64'));
  }
  return v;
}

export function loadFixture(name: string): unknown {
  return JSON.parse(readFileSync(`${fixtureDir}${name}.json`, 'utf8'), revive);
}

export interface InvalidCase {
  type: WireMessageType;
  set: Record<string, unknown>;
  code: string;
  why: string;
}

/** Deep-copy the fixture of `type` and apply `set` (dotted paths, numeric list indices). */
export function patched(type: WireMessageType, set: Record<string, unknown>): unknown {
  const value = structuredClone(loadFixture(type)) as Record<string, unknown>;
  for (const [path, v] of Object.entries(set)) {
    const keys = path.split('.');
    let at: Record<string, unknown> = value;
    for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
    at[keys[keys.length - 1]!] = v;
  }
  return value;
}
