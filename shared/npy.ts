// NumPy's .npy format (numpy/lib/format.py, format versions 1.0-3.0), so a tensor bmfleet feeds a
// model can be compared with the one a user's own Python pipeline makes. Writes version 1.0 with
// the header padded to a multiple of 64 bytes as numpy does; reads little- and big-endian
// float32/float64/int8/uint8/int32/int64 in C order, and refuses anything else with a typed error.
import { bmfError } from './errors.js';
import { makeTensor, type Tensor } from './tensor.js';

const MAGIC = '\x93NUMPY';
const MAX_HEADER = 1 << 16;

const WRITE_DESCR: Partial<Record<Tensor['dtype'], string>> = {
  float32: '<f4',
  int8: '|i1',
  uint8: '|u1',
  int32: '<i4',
  int64: '<i8',
};

/** Values read from a .npy: numbers in C order whatever the stored type. */
export interface NpyArray {
  readonly descr: string;
  readonly shape: readonly number[];
  readonly values: Float64Array;
}

function npyError(offset: number, reason: string): never {
  throw bmfError('BMF_ERR_NPY_INVALID', { offset, reason });
}

export function encodeNpy(t: Tensor): Uint8Array {
  const descr = WRITE_DESCR[t.dtype];
  if (!descr) {
    throw bmfError('BMF_ERR_TENSOR_MISMATCH', { reason: `${t.dtype} has no .npy writer` });
  }
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const unpadded = MAGIC.length + 2 + 2 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(10 + header.length);
  head.write(MAGIC, 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  head.write(header, 10, 'latin1');
  const body = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return Buffer.concat([head, body]);
}

interface Descr {
  readonly size: number;
  read(view: DataView, at: number): number;
}

function descrOf(descr: string): Descr | undefined {
  const m = /^([<>|=])([fiu])(\d)$/.exec(descr);
  if (!m) return undefined;
  const little = m[1] !== '>';
  const size = Number(m[3]);
  const kind = `${m[2]}${size}`;
  const readers: Record<string, (v: DataView, at: number) => number> = {
    f4: (v, at) => v.getFloat32(at, little),
    f8: (v, at) => v.getFloat64(at, little),
    i1: (v, at) => v.getInt8(at),
    u1: (v, at) => v.getUint8(at),
    i4: (v, at) => v.getInt32(at, little),
    i8: (v, at) => Number(v.getBigInt64(at, little)),
  };
  const read = readers[kind];
  return read ? { size, read } : undefined;
}

export function decodeNpy(bytes: Uint8Array): NpyArray {
  if (bytes.length < 10 || Buffer.from(bytes.subarray(0, 6)).toString('latin1') !== MAGIC) {
    npyError(0, 'no \\x93NUMPY magic');
  }
  const major = bytes[6] as number;
  if (major < 1 || major > 3) npyError(6, `format version ${major}.${bytes[7]} unknown`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenSize = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenSize) npyError(8, 'header length missing');
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenSize;
  if (headerLen > MAX_HEADER || start + headerLen > bytes.length) {
    npyError(8, `header length ${headerLen} exceeds the file`);
  }
  const header = Buffer.from(bytes.subarray(start, start + headerLen)).toString(
    major === 3 ? 'utf8' : 'latin1',
  );
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    npyError(start, `header is not a descr/fortran_order/shape dictionary: ${header.trim()}`);
  }
  if (fortran === 'True') npyError(start, 'Fortran order is not supported (save with C order)');
  const d = descrOf(descr);
  if (!d) npyError(start, `dtype ${descr} is not supported`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => (/^\d+$/.test(s) ? Number(s) : npyError(start, `bad dimension '${s}'`)));
  const count = shape.reduce((a, b) => a * b, 1);
  const dataAt = start + headerLen;
  if (bytes.length - dataAt !== count * d.size) {
    npyError(
      dataAt,
      `shape (${shape.join(', ')}) of ${descr} needs ${count * d.size} bytes, got ${bytes.length - dataAt}`,
    );
  }
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) values[i] = d.read(view, dataAt + i * d.size);
  return { descr, shape, values };
}

/** A float32/int8/uint8 tensor from a .npy of that exact type (for tests and tools). */
export function npyToTensor(a: NpyArray): Tensor {
  const kind = a.descr.slice(1);
  if (kind === 'f4') return makeTensor('float32', a.shape, Float32Array.from(a.values));
  if (kind === 'i1') return makeTensor('int8', a.shape, Int8Array.from(a.values));
  if (kind === 'u1') return makeTensor('uint8', a.shape, Uint8Array.from(a.values));
  throw bmfError('BMF_ERR_TENSOR_MISMATCH', {
    reason: `dtype ${a.descr} is not a model input type`,
  });
}
