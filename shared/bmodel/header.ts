// The 64-byte BMODEL header (vendor MODEL_HEADER_T, packed, little-endian): magic 0xFF55AAEE,
// header_size, flatbuffers_size, binary_size, reserved[12]. The file then holds the flatbuffer
// and the binary region, so a valid file has length >= header_size + flatbuffers_size + binary_size
// (docs/vendor.md section 2).
import { bmfError } from '../errors.js';
import { BMODEL_HEADER_SIZE, BMODEL_MAGIC } from './types.js';
import type { BmodelHeader } from './types.js';

/** Largest layout the vendor's 32-bit header arithmetic can describe without wrapping. */
const U32_LIMIT = 2 ** 32;

export function parseHeader(bytes: Uint8Array): BmodelHeader {
  if (bytes.length < BMODEL_HEADER_SIZE) {
    throw bmfError('BMF_ERR_BMODEL_TRUNCATED', {
      offset: bytes.length,
      reason: `file has ${bytes.length} bytes, the header alone needs ${BMODEL_HEADER_SIZE}`,
    });
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, BMODEL_HEADER_SIZE);
  const u32 = (i: number): number => dv.getUint32(i * 4, true);
  const magic = u32(0);
  if (magic !== BMODEL_MAGIC) {
    throw bmfError('BMF_ERR_BMODEL_MAGIC', {
      offset: 0,
      found: `0x${magic.toString(16).padStart(8, '0')}`,
    });
  }
  const header: BmodelHeader = {
    magic,
    headerSize: u32(1),
    flatbuffersSize: u32(2),
    binarySize: u32(3),
    reserved: Array.from({ length: 12 }, (_, i) => u32(4 + i)),
  };
  if (header.headerSize !== BMODEL_HEADER_SIZE) {
    throw bmfError('BMF_ERR_BMODEL_HEADER', {
      offset: 4,
      reason: `header_size is ${header.headerSize}, expected ${BMODEL_HEADER_SIZE}`,
    });
  }
  // A root uoffset plus the smallest vtable and table need at least 12 bytes.
  if (header.flatbuffersSize < 12) {
    throw bmfError('BMF_ERR_BMODEL_SIZE', {
      offset: 8,
      reason: `flatbuffers_size ${header.flatbuffersSize} is too small for a Model table`,
    });
  }
  const total = header.headerSize + header.flatbuffersSize + header.binarySize;
  if (total >= U32_LIMIT) {
    throw bmfError('BMF_ERR_BMODEL_SIZE', {
      offset: 8,
      reason: `header_size + flatbuffers_size + binary_size = ${total} overflows 32 bits`,
    });
  }
  if (total > bytes.length) {
    throw bmfError('BMF_ERR_BMODEL_TRUNCATED', {
      offset: bytes.length,
      reason: `header declares ${total} bytes (flatbuffers_size ${header.flatbuffersSize}, binary_size ${header.binarySize}), file has ${bytes.length}`,
    });
  }
  return header;
}

export function encodeHeader(flatbuffersSize: number, binarySize: number): Uint8Array {
  const out = new Uint8Array(BMODEL_HEADER_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, BMODEL_MAGIC, true);
  dv.setUint32(4, BMODEL_HEADER_SIZE, true);
  dv.setUint32(8, flatbuffersSize, true);
  dv.setUint32(12, binarySize, true);
  return out;
}
