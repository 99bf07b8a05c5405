// How a rollup sits in the telemetry_minute row: counters as JSON, the per-stage sketches as one
// BLOB of length-prefixed LatencySketch wire messages:
//   u8 version (1) | repeated { u8 nameLength | name (UTF-8) | u32le length | LatencySketch }
// The wire message is reused so the stored form and the device form can never drift apart.
import { bmfError, isBmfError } from '../../shared/errors.js';
import { LatencySketch } from '../../shared/stats/sketch.js';
import { emptyCounters, type RollupCounters } from './rollup.js';

const VERSION = 1;

function corrupt(reason: string): never {
  throw bmfError('BMF_ERR_STORE', { reason: `telemetry_minute row unreadable: ${reason}` });
}

export function encodeSketches(sketches: ReadonlyMap<string, LatencySketch>): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(VERSION)];
  for (const [stage, sketch] of sketches) {
    const name = Buffer.from(stage, 'utf8');
    if (name.length > 255) corrupt(`stage name "${stage.slice(0, 40)}" too long`);
    const body = sketch.encode();
    const head = Buffer.alloc(1 + name.length + 4);
    head.writeUInt8(name.length, 0);
    name.copy(head, 1);
    head.writeUInt32LE(body.length, 1 + name.length);
    parts.push(head, body);
  }
  return Buffer.concat(parts);
}

export function decodeSketches(bytes: Uint8Array): Map<string, LatencySketch> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 1 || buf.readUInt8(0) !== VERSION) corrupt('unknown sketch blob version');
  const out = new Map<string, LatencySketch>();
  let at = 1;
  while (at < buf.length) {
    const nameLength = buf.readUInt8(at);
    if (at + 1 + nameLength + 4 > buf.length) corrupt('truncated sketch header');
    const stage = buf.toString('utf8', at + 1, at + 1 + nameLength);
    const length = buf.readUInt32LE(at + 1 + nameLength);
    const start = at + 1 + nameLength + 4;
    if (start + length > buf.length) corrupt(`truncated sketch ${stage}`);
    try {
      out.set(stage, LatencySketch.decode(buf.subarray(start, start + length)));
    } catch (e) {
      if (isBmfError(e)) corrupt(`sketch ${stage}: ${e.message}`);
      throw e;
    }
    at = start + length;
  }
  return out;
}

export function encodeCounters(c: RollupCounters): string {
  return JSON.stringify(c);
}

/** Parse the counters column; fields missing in older rows take their empty value. */
export function decodeCounters(json: string): RollupCounters {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    corrupt('counters are not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    corrupt('counters are not an object');
  }
  const base = emptyCounters();
  const p = parsed as Partial<RollupCounters>;
  return {
    ...base,
    ...p,
    shadow: {
      ...base.shadow,
      ...(p.shadow ?? {}),
      boxes: { ...base.shadow.boxes, ...(p.shadow?.boxes ?? {}) },
    },
    detection: { ...base.detection, ...(p.detection ?? {}) },
    detectionOutput: { ...base.detectionOutput, ...(p.detectionOutput ?? {}) },
    tpu: { ...base.tpu, ...(p.tpu ?? {}) },
    failedBeforeModel: p.failedBeforeModel ?? base.failedBeforeModel,
  };
}
