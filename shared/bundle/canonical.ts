// Deterministic JSON encoding for everything that is signed or digested (manifests, roots,
// assignments, envelopes). TUF/Uptane verify "k-of-n signatures over canonical bytes": signer and
// verifier must derive the same bytes from the same value, whatever key order or whitespace a JSON
// file happened to have. Rules (the subset of RFC 8785 JCS that our documents need): object keys
// sorted by UTF-16 code units, no whitespace, strings and numbers as ECMAScript JSON serialises
// them, UTF-8 output. Non-finite numbers, bigint, functions, symbols, undefined array items and
// non-plain objects (Date, Map, typed arrays) are rejected instead of silently changed.
import { bmfError } from '../errors.js';

const MAX_DEPTH = 64;

function fail(path: string, reason: string): never {
  throw bmfError('BMF_ERR_TRUST_DOCUMENT_INVALID', { what: 'canonical JSON', field: path, reason });
}

function encode(value: unknown, path: string, depth: number, out: string[]): void {
  if (depth > MAX_DEPTH) fail(path, `nesting deeper than ${MAX_DEPTH}`);
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'number':
      if (!Number.isFinite(value)) fail(path, `non-finite number ${value}`);
      out.push(JSON.stringify(value));
      return;
    case 'object':
      break;
    default:
      fail(path, `${typeof value} is not JSON`);
  }
  if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, i) => {
      if (item === undefined) fail(`${path}[${i}]`, 'undefined array item');
      if (i > 0) out.push(',');
      encode(item, `${path}[${i}]`, depth + 1, out);
    });
    out.push(']');
    return;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) fail(path, 'not a plain object');
  const record = value as Record<string, unknown>;
  // Absent and undefined are the same in JSON; dropping undefined keeps encode(parse(x)) stable.
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  out.push('{');
  keys.forEach((k, i) => {
    if (i > 0) out.push(',');
    out.push(JSON.stringify(k), ':');
    encode(record[k], path === '' ? k : `${path}.${k}`, depth + 1, out);
  });
  out.push('}');
}

/** Canonical JSON text of a value (see the rules above). */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  encode(value, '', 0, out);
  return out.join('');
}

/** Canonical UTF-8 bytes of a value: what signatures and digests are computed over. */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}
