// NumPy .npy (format version 1.0) for one float32 array: the test input handed to
// model_transform.py --test_input. Layout: magic "\x93NUMPY", version 1.0, little-endian uint16
// header length, a Python dict literal padded with spaces to a multiple of 64 bytes, then data.
import type { Tensor } from '../../../shared/tensor.js';

export function encodeNpyFloat32(t: Tensor<'float32'>): Uint8Array {
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + t.data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), 10 + header.length);
  return out;
}
