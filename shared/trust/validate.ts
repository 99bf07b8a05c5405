// Edge validation shared by the bundle and trust documents: check a TypeBox schema and report the
// first failure as a dotted field path ("files[0].sha256") so the error names what to fix.
import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export interface SchemaFailure {
  readonly field: string;
  readonly reason: string;
}

/** JSON pointer ("/files/0/sha256") to a dotted path ("files[0].sha256"). */
function pointerToField(pointer: string): string {
  const parts = pointer.split('/').slice(1);
  let out = '';
  for (const raw of parts) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out === '' ? '(document)' : out;
}

export function firstSchemaFailure(schema: TSchema, value: unknown): SchemaFailure | undefined {
  if (Value.Check(schema, value)) return undefined;
  const first = Value.Errors(schema, value).First();
  if (!first) return { field: '(document)', reason: 'does not match the schema' };
  return { field: pointerToField(first.path), reason: first.message };
}

/** Narrow `value` to the schema's type or call `fail` with the first failure. */
export function assertSchema<T extends TSchema>(
  schema: T,
  value: unknown,
  fail: (f: SchemaFailure) => never,
): asserts value is Static<T> {
  const failure = firstSchemaFailure(schema, value);
  if (failure) fail(failure);
}

/** ISO 8601 date-time with an explicit zone, e.g. 2026-01-31T12:00:00Z. */
export const ISO_TIME_PATTERN =
  '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$';

/** Milliseconds since the epoch of an ISO time already matched by ISO_TIME_PATTERN. */
export function isoToMs(iso: string): number {
  return Date.parse(iso);
}

export { DIGEST_PATTERN as SHA256_HEX_PATTERN } from '../ids.js';
