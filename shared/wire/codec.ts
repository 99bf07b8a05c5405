// Encode and decode wire messages. Decoding is the edge where untrusted MQTT payloads become
// typed values: the size limit is checked before protobufjs sees a byte, protobufjs errors become
// BMF_ERR_WIRE_DECODE, and every decoded value passes generic bounds and the per-type semantic
// checks (validate.ts). Encoding runs the same checks so we never publish what we would reject.
// Device ids and digests come out as shared/ids.ts's DeviceId and Digest: the validators check
// each against its one pattern before decodeMessage returns, so the message's types hold.
import protobuf from 'protobufjs';
import { BmfError, bmfError } from '../errors.js';
import { MAX_ITEMS, MAX_MESSAGE_CHARS, MAX_STRING_CHARS, WIRE_SIZE_LIMITS } from './limits.js';
import { MAX_CHUNKS, MAX_REQUEST_INDICES, MAX_SKETCH_BINS } from './limits.js';
import type { WireMessages } from './messages.js';
import { createWireSchema } from './schema.js';
import type { WireMessageType, WireSchema } from './schema.js';
import { validators } from './validate.js';
import { readVariantSpelling } from './variant-spelling.js';

// Parsed once, on first use; never mutated afterwards (pure data).
let cachedSchema: WireSchema | undefined;
function schema(): WireSchema {
  cachedSchema ??= createWireSchema();
  return cachedSchema;
}

/** Repeated fields with their own bound (the rest get MAX_ITEMS). */
const REPEATED_LIMITS: Readonly<Record<string, number>> = {
  'BlobOffer.chunkSha256': MAX_CHUNKS,
  'BlobChunkRequest.indices': MAX_REQUEST_INDICES,
  'LatencySketch.binCounts': MAX_SKETCH_BINS,
};
const repeatedLimits = new WeakMap<protobuf.Field, number>();
function repeatedLimit(type: protobuf.Type, field: protobuf.Field): number {
  let max = repeatedLimits.get(field);
  if (max === undefined) {
    max = REPEATED_LIMITS[`${type.name}.${field.name}`] ?? MAX_ITEMS;
    repeatedLimits.set(field, max);
  }
  return max;
}
const LONG_TYPES = new Set(['uint64', 'int64', 'sint64', 'fixed64', 'sfixed64']);
const FLOAT_TYPES = new Set(['double', 'float']);

type Direction = 'encode' | 'decode';

class WalkError extends Error {}

const enumPrefixes = new WeakMap<protobuf.Enum, string>();

/** RuntimeKind -> RUNTIME_KIND_ (worked out once per enum) */
function enumPrefix(e: protobuf.Enum): string {
  let prefix = enumPrefixes.get(e);
  if (prefix === undefined) {
    prefix = `${e.name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}_`;
    enumPrefixes.set(e, prefix);
  }
  return prefix;
}

function convertEnum(e: protobuf.Enum, v: unknown, dir: Direction, path: string): string {
  const prefix = enumPrefix(e);
  // A decoded message holds the enum's number.
  if (dir === 'decode' && typeof v === 'number') v = e.valuesById[v] ?? v;
  if (typeof v !== 'string') throw new WalkError(`${path}: unknown ${e.name} value ${String(v)}`);
  const full = dir === 'decode' ? v : `${prefix}${v.toUpperCase()}`;
  if (dir === 'encode' && v !== v.toLowerCase()) throw new WalkError(`${path}: bad ${e.name} ${v}`);
  if (e.values[full] === undefined || e.values[full] === 0) {
    throw new WalkError(`${path}: ${e.name} value ${v} is unknown or unspecified`);
  }
  return dir === 'decode' ? full.slice(prefix.length).toLowerCase() : full;
}

/**
 * The path of `field` (item `key`) inside the message at `base`, for error messages. Built only
 * when needed: a report has hundreds of values, and most never need a name.
 */
function at(base: string, field: protobuf.Field, key?: string | number): string {
  const path = base ? `${base}.${field.name}` : field.name;
  return key === undefined ? path : `${path}[${key}]`;
}

function convertScalar(
  field: protobuf.Field,
  v: unknown,
  dir: Direction,
  base: string,
  key?: string | number,
): unknown {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Enum) return convertEnum(rt, v, dir, at(base, field, key));
  if (rt instanceof protobuf.Type) {
    if (v === null || v === undefined) {
      // proto3 leaves absent sub-messages null; typed code always gets a complete value.
      v = rt.create({});
    }
    if (typeof v !== 'object') throw new WalkError(`${at(base, field, key)}: expected a message`);
    return walk(rt, v as Record<string, unknown>, dir, at(base, field, key));
  }
  if (field.type === 'bytes') {
    if (!(v instanceof Uint8Array)) throw new WalkError(`${at(base, field, key)}: expected bytes`);
    return dir === 'decode' ? decodedBytes(v) : v;
  }
  if (field.type === 'string') {
    const max = field.name === 'message' ? MAX_MESSAGE_CHARS : MAX_STRING_CHARS;
    if (typeof v !== 'string') throw new WalkError(`${at(base, field, key)}: expected a string`);
    if (v.length > max) throw new WalkError(`${at(base, field, key)}: string longer than ${max}`);
    return v;
  }
  if (field.type === 'bool') {
    if (typeof v !== 'boolean') throw new WalkError(`${at(base, field, key)}: expected a boolean`);
    return v;
  }
  return checkNumber(field, numberRule(field), v, base, key);
}

/** Below this a decoded bytes field is copied; at or above it, it is a view of the payload. */
export const BYTES_VIEW_MIN = 4096;

/**
 * A decoded bytes field as a plain Uint8Array. Small values (digests, signatures) are copied so
 * that keeping one never pins the receive buffer it came in; large ones (blob chunks, 256 KiB,
 * nearly the whole message) are views of the payload: copying them cost each simulated device a
 * 256 KiB memcpy per chunk, 2 GiB over a 500-device rollout of 4 MiB (fleet benchmark).
 */
function decodedBytes(v: Uint8Array): Uint8Array {
  return v.byteLength < BYTES_VIEW_MIN
    ? new Uint8Array(v)
    : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

const LongClass = protobuf.util.Long as (abstract new (...a: never[]) => protobuf.Long) | undefined;
function isLong(v: unknown): v is protobuf.Long & { toNumber(): number } {
  return LongClass !== undefined && v instanceof LongClass;
}

interface NumberRule {
  readonly float: boolean;
  readonly unsigned: boolean;
  readonly wide: boolean;
}
const numberRules = new WeakMap<protobuf.Field, NumberRule>();

/** How a numeric field's values are bounded, worked out once per field. */
function numberRule(field: protobuf.Field): NumberRule {
  let rule = numberRules.get(field);
  if (!rule) {
    rule = {
      float: FLOAT_TYPES.has(field.type),
      unsigned: field.type.startsWith('uint'),
      wide: LONG_TYPES.has(field.type),
    };
    numberRules.set(field, rule);
  }
  return rule;
}

function checkNumber(
  field: protobuf.Field,
  rule: NumberRule,
  v: unknown,
  base: string,
  key?: string | number,
): number {
  // An unset 64-bit field of a decoded message reads its prototype default, a Long zero.
  if (rule.wide && isLong(v)) v = v.toNumber();
  if (typeof v !== 'number') throw new WalkError(`${at(base, field, key)}: expected a number`);
  if (rule.float) {
    if (!Number.isFinite(v)) throw new WalkError(`${at(base, field, key)}: ${v} is not finite`);
  } else if (!Number.isSafeInteger(v)) {
    throw new WalkError(`${at(base, field, key)}: ${v} is not a safe integer`);
  } else if (rule.unsigned && v < 0) {
    throw new WalkError(`${at(base, field, key)}: ${v} is negative`);
  } else if (!rule.wide && Math.abs(v) > 0xffffffff) {
    throw new WalkError(`${at(base, field, key)}: ${v} does not fit 32 bits`);
  }
  return v;
}

function isNumberField(field: protobuf.Field): boolean {
  return !field.resolvedType && !['bytes', 'string', 'bool'].includes(field.type);
}

/**
 * A repeated field's values. Numeric lists (sketch bins) are checked in one loop and passed on
 * as they are (nothing converts numbers), without a copy of hundreds of items.
 */
function convertList(field: protobuf.Field, list: unknown[], dir: Direction, base: string) {
  if (!isNumberField(field)) return list.map((x, i) => convertScalar(field, x, dir, base, i));
  const rule = numberRule(field);
  for (let i = 0; i < list.length; i++) checkNumber(field, rule, list[i], base, i);
  // An unset repeated field of a decoded message is protobufjs' shared frozen empty array.
  return list.length === 0 ? [] : list;
}

function walk(
  type: protobuf.Type,
  obj: Record<string, unknown>,
  dir: Direction,
  base: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const v = obj[field.name];
    if (field instanceof protobuf.MapField) {
      const entries = Object.entries((v ?? {}) as Record<string, unknown>);
      if (entries.length > MAX_ITEMS) {
        throw new WalkError(`${at(base, field)}: more than ${MAX_ITEMS} entries`);
      }
      const m: Record<string, unknown> = {};
      for (const [k, x] of entries) {
        if (k.length > MAX_STRING_CHARS) throw new WalkError(`${at(base, field)}: key too long`);
        m[k] = convertScalar(field, x, dir, base, k);
      }
      out[field.name] = m;
    } else if (field.repeated) {
      const list = (v ?? []) as unknown[];
      if (!Array.isArray(list)) throw new WalkError(`${at(base, field)}: expected a list`);
      const max = repeatedLimit(type, field);
      if (list.length > max) throw new WalkError(`${at(base, field)}: more than ${max} items`);
      out[field.name] = convertList(field, list, dir, base);
    } else if (
      field.options?.proto3_optional &&
      // A decoded message holds the fields read from the wire as its own properties; an unset
      // `optional uint64` reads a Long zero from the prototype, not null.
      (v === undefined || v === null || (dir === 'decode' && !Object.hasOwn(obj, field.name)))
    ) {
      continue; // proto3 `optional` left unset
    } else {
      out[field.name] = convertScalar(field, v, dir, base);
    }
  }
  return out;
}

/**
 * protobufjs reads every uint64 as a Long, which toObject would then turn into a number through a
 * LongBits: two objects per value, and a sketch has hundreds of uint64 bins. Varints of up to
 * 7 bytes (< 2^49) are read straight into a number here, exactly; longer ones go the library's
 * way and are converted as toObject({ longs: Number }) would, so every value comes out the same.
 */
class WireReader extends protobuf.Reader {
  override uint64(): protobuf.Long {
    const start = this.pos;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 7 && this.pos < this.len; i++) {
      const byte = this.buf[this.pos++]!;
      value += (byte & 0x7f) * scale;
      // Generated decoders and toObject take a number wherever a Long may appear.
      if (byte < 0x80) return value as unknown as protobuf.Long;
      scale *= 0x80;
    }
    this.pos = start;
    const long: protobuf.Long | number = super.uint64();
    if (typeof long === 'number') return long as unknown as protobuf.Long;
    return ((long.low >>> 0) + (long.high >>> 0) * 0x1_0000_0000) as unknown as protobuf.Long;
  }
}

function walkOrThrow(
  typeName: WireMessageType,
  type: protobuf.Type,
  obj: Record<string, unknown>,
  dir: Direction,
): Record<string, unknown> {
  try {
    return walk(type, obj, dir, '');
  } catch (e) {
    if (e instanceof WalkError) {
      throw bmfError('BMF_ERR_WIRE_DECODE', { type: typeName, reason: e.message });
    }
    throw e;
  }
}

function checkSemantics<K extends WireMessageType>(typeName: K, value: WireMessages[K]): void {
  (validators[typeName] as (m: WireMessages[K]) => void)(value);
}

/** Encode a typed message; throws BMF_ERR_WIRE_DECODE if it would not pass decodeMessage. */
export function encodeMessage<K extends WireMessageType>(
  typeName: K,
  value: WireMessages[K],
): Uint8Array {
  const type = schema().type(typeName);
  const plain = walkOrThrow(typeName, type, value as unknown as Record<string, unknown>, 'encode');
  checkSemantics(typeName, value);
  const bytes = type.encode(type.fromObject(plain)).finish();
  const limit = WIRE_SIZE_LIMITS[typeName];
  if (bytes.length > limit) {
    throw bmfError('BMF_ERR_WIRE_TOO_LARGE', { type: typeName, size: bytes.length, limit });
  }
  return bytes;
}

export interface DecodeOptions {
  /** Overrides the type's default size limit (WIRE_SIZE_LIMITS). */
  readonly maxBytes?: number;
}

/** Decode untrusted bytes into a typed, validated message. */
export function decodeMessage<K extends WireMessageType>(
  typeName: K,
  bytes: Uint8Array,
  options: DecodeOptions = {},
): WireMessages[K] {
  const limit = options.maxBytes ?? WIRE_SIZE_LIMITS[typeName];
  if (bytes.length > limit) {
    throw bmfError('BMF_ERR_WIRE_TOO_LARGE', { type: typeName, size: bytes.length, limit });
  }
  const type = schema().type(typeName);
  let raw: Record<string, unknown>;
  try {
    // The decoded message itself: walk reads its fields (unset ones from the prototype's
    // defaults), turns enum numbers into names and checks every value, so no toObject copy.
    raw = type.decode(new WireReader(bytes)) as unknown as Record<string, unknown>;
  } catch (e) {
    if (e instanceof BmfError) throw e;
    const reason = e instanceof Error ? e.message : String(e);
    throw bmfError('BMF_ERR_WIRE_DECODE', { type: typeName, reason }, { cause: e });
  }
  const value = walkOrThrow(typeName, type, raw, 'decode') as unknown as WireMessages[K];
  readVariantSpelling(typeName, value);
  checkSemantics(typeName, value);
  return value;
}
