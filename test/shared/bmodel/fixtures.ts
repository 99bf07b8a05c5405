// Shared test data access for the BMODEL tests: fixture files, the vendor BMODEL folder, a tiny
// path language to locate bytes inside a BMODEL (see hostile-cases.json), and a seeded PRNG.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Builder } from 'flatbuffers';
import { writeBmodel } from '../../../shared/bmodel/index.js';
import type { BmodelSpec } from '../../../shared/bmodel/index.js';

const fixtures = new URL('../../fixtures/bmodel/', import.meta.url);

export function fixtureJson<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, fixtures), 'utf8')) as T;
}

export function fixtureText(name: string): string {
  return readFileSync(new URL(name, fixtures), 'utf8');
}

/** The vendor BMODELs beside the checkout (or $BMFLEET_VENDOR_BMODELS); undefined when absent. */
export function vendorDir(env = process.env): string | undefined {
  const dir =
    env.BMFLEET_VENDOR_BMODELS ??
    fileURLToPath(new URL('../../../../shared/bmodels/', import.meta.url));
  return existsSync(dir) ? dir : undefined;
}

export const VENDOR_SKIP_REASON =
  'vendor BMODELs not found beside the checkout (../shared/bmodels) nor in $BMFLEET_VENDOR_BMODELS';

export function syntheticBinary(size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => i % 251);
}

export function syntheticSpec(): BmodelSpec {
  const f = fixtureJson<{ binarySize: number; spec: BmodelSpec }>('synthetic-spec.json');
  return { ...f.spec, binary: syntheticBinary(f.binarySize) };
}

export function syntheticBmodel(): Uint8Array {
  return writeBmodel(syntheticSpec());
}

/** Resolve a byte position from a path such as "root f4 * [0]" (see hostile-cases.json). */
export function locate(bytes: Uint8Array, path: string): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  for (const step of path.trim().split(/\s+/)) {
    if (step === 'fb') pos = 64;
    else if (step === 'end') pos = bytes.length;
    else if (step === 'root') pos = 64 + dv.getUint32(64, true);
    else if (step === '*') pos += dv.getUint32(pos, true);
    else if (step === 'vt') pos -= dv.getInt32(pos, true);
    else if (/^\[\d+\]$/.test(step)) pos += 4 + 4 * Number(step.slice(1, -1));
    else if (/^\+\d+$/.test(step)) pos += Number(step.slice(1));
    else if (/^f\d+$/.test(step)) {
      const vt = pos - dv.getInt32(pos, true);
      const off = dv.getUint16(vt + 4 + 2 * Number(step.slice(1)), true);
      if (off === 0) throw new Error(`path ${path}: field ${step} absent`);
      pos += off;
    } else throw new Error(`path ${path}: bad step ${step}`);
  }
  return pos;
}

export type Mutation =
  | { kind: 'truncate'; length?: number; drop?: number }
  | { kind: 'u32' | 'u32add' | 'u16'; path: string; value: number }
  | { kind: 'dagBomb'; tensors: number; dims: number };

export function mutate(original: Uint8Array, m: Mutation): Uint8Array {
  if (m.kind === 'truncate') {
    return original.slice(0, m.length ?? original.length - (m.drop ?? 0));
  }
  if (m.kind === 'dagBomb') return dagBomb(m.tensors, m.dims);
  const out = original.slice();
  const dv = new DataView(out.buffer);
  const at = locate(out, m.path);
  if (m.kind === 'u16') dv.setUint16(at, m.value, true);
  else if (m.kind === 'u32') dv.setUint32(at, m.value >>> 0, true);
  else dv.setUint32(at, (dv.getUint32(at, true) + m.value) >>> 0, true);
  return out;
}

/**
 * A small, structurally valid BMODEL whose one stage lists the same tensor `tensors` times, and
 * that tensor's shape has `dims` dimensions: tiny on disk, tensors x dims reads when expanded.
 */
export function dagBomb(tensors: number, dims: number): Uint8Array {
  const b = new Builder(1024);
  b.startVector(8, dims, 8);
  for (let i = 0; i < dims; i++) b.addInt64(1n);
  const dimVec = b.endVector();
  b.startObject(1);
  b.addFieldOffset(0, dimVec, 0);
  const shape = b.endObject();
  b.startVector(4, 1, 4);
  b.addOffset(shape);
  const shapes = b.endVector();
  const name = b.createString('t');
  b.startObject(13);
  b.addFieldOffset(0, name, 0);
  b.addFieldOffset(5, shapes, 0);
  const tensor = b.endObject();
  b.startVector(4, tensors, 4);
  for (let i = 0; i < tensors; i++) b.addOffset(tensor);
  const tensorVec = b.endVector();
  b.startObject(2);
  b.addFieldOffset(0, tensorVec, 0);
  b.addFieldOffset(1, tensorVec, 0);
  const stage = b.endObject();
  b.startVector(4, 1, 4);
  b.addOffset(stage);
  const stages = b.endVector();
  const netName = b.createString('bomb');
  b.startObject(6);
  b.addFieldOffset(0, netName, 0);
  b.addFieldOffset(3, stages, 0);
  const net = b.endObject();
  b.startVector(4, 1, 4);
  b.addOffset(net);
  const nets = b.endVector();
  const strs = ['B', '2.2', 'now', 'BM1684'].map((s) => b.createString(s));
  b.startObject(11);
  strs.forEach((s, i) => b.addFieldOffset(i, s, 0));
  b.addFieldOffset(4, nets, 0);
  b.finish(b.endObject());
  const fb = b.asUint8Array();
  const out = new Uint8Array(64 + fb.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0xff55aaee, true);
  dv.setUint32(4, 64, true);
  dv.setUint32(8, fb.length, true);
  out.set(fb, 64);
  return out;
}
