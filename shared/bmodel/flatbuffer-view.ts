// Bounds-checked access to the BMODEL flatbuffer. The flatbuffers runtime trusts its input (an
// offset past the end reads `undefined` and turns into NaN or 0), so every uoffset, vtable,
// vector length and string length is checked against the buffer here before the runtime's
// ByteBuffer reads it. Offsets in errors are file offsets (flatbuffer position + 64).
//
// Termination and memory: uoffsets are unsigned and point forward, and the reader walks a fixed
// schema (Model > Net > NetParameter > Tensor > Shape), so nesting depth is bounded by the schema.
// Shared sub-objects (a DAG) could still multiply the work, so every table, vector element and
// string byte read is charged to one budget sized from the flatbuffer itself (BMF_ERR_BMODEL_LIMIT).
import { ByteBuffer } from 'flatbuffers';
import { bmfError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { BinaryRange } from './types.js';

const utf8 = new TextDecoder('utf-8');

export class FlatbufferView {
  readonly bb: ByteBuffer;
  readonly length: number;
  private budget: number;

  /** `bytes` is the flatbuffer region; `base` its offset in the file (for error offsets). */
  constructor(
    bytes: Uint8Array,
    readonly base: number,
    /** binary_size from the header: every Binary{start,size} must end inside it. */
    readonly binaryLimit: number,
  ) {
    this.bb = new ByteBuffer(bytes);
    this.length = bytes.length;
    this.budget = bytes.length + 1024;
  }

  fail(code: ErrorCode, pos: number, reason: string): never {
    throw bmfError(code, { offset: this.base + pos, reason });
  }

  charge(units: number, pos: number, what: string): void {
    this.budget -= units;
    if (this.budget < 0) {
      this.fail('BMF_ERR_BMODEL_LIMIT', pos, `${what}: more elements than the flatbuffer can hold`);
    }
  }

  /** [pos, pos+n) must lie inside the flatbuffer; `from` is where the pointer was read. */
  need(pos: number, n: number, from: number, what: string): void {
    if (!(pos >= 0 && n >= 0 && pos + n <= this.length)) {
      this.fail(
        'BMF_ERR_BMODEL_OFFSET',
        from,
        `${what} at flatbuffer position ${pos} (+${n} bytes) lies outside the ${this.length}-byte flatbuffer`,
      );
    }
  }

  u16(pos: number): number {
    return this.bb.readUint16(pos);
  }

  u32(pos: number): number {
    return this.bb.readUint32(pos);
  }

  /** uint64 as a number; refuses values a JS number cannot hold exactly. */
  u64(pos: number, what: string): number {
    const v = this.bb.readUint64(pos);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      this.fail('BMF_ERR_BMODEL_LIMIT', pos, `${what} ${v} exceeds 2^53-1`);
    }
    return Number(v);
  }

  /** Struct Binary {start, size} at `pos`, checked against the binary region. */
  binaryAt(pos: number, what: string): BinaryRange {
    const start = this.u64(pos, `${what}.start`);
    const size = this.u64(pos + 8, `${what}.size`);
    if (start + size > this.binaryLimit) {
      this.fail(
        'BMF_ERR_BMODEL_OFFSET',
        pos,
        `${what} [${start}, +${size}) ends beyond the ${this.binaryLimit}-byte binary region`,
      );
    }
    return { start, size };
  }

  /** Follow the uoffset stored at `pos`; returns the target position (at least 4 bytes there). */
  indirect(pos: number, what: string): number {
    this.need(pos, 4, pos, what);
    const target = pos + this.u32(pos);
    this.need(target, 4, pos, what);
    return target;
  }

  table(pos: number, what: string, from = pos): TableView {
    this.need(pos, 4, from, what);
    this.charge(1, pos, what);
    const vtable = pos - this.bb.readInt32(pos);
    this.need(vtable, 4, pos, `${what} vtable`);
    const vtableSize = this.u16(vtable);
    const tableSize = this.u16(vtable + 2);
    if (vtableSize < 4 || vtableSize % 2 !== 0) {
      this.fail(
        'BMF_ERR_BMODEL_FLATBUFFER',
        vtable,
        `${what} vtable size ${vtableSize} is invalid`,
      );
    }
    if (tableSize < 4) {
      this.fail('BMF_ERR_BMODEL_FLATBUFFER', vtable, `${what} table size ${tableSize} is invalid`);
    }
    this.need(vtable, vtableSize, pos, `${what} vtable`);
    this.need(pos, tableSize, pos, what);
    return new TableView(this, pos, vtable, vtableSize, tableSize, what);
  }

  root(): TableView {
    const target = this.indirect(0, 'root table offset');
    return this.table(target, 'Model', 0);
  }
}

/** One table: typed accessors by field id (the schema's `id:` attribute). */
export class TableView {
  constructor(
    private readonly v: FlatbufferView,
    readonly pos: number,
    private readonly vtable: number,
    private readonly vtableSize: number,
    private readonly tableSize: number,
    readonly what: string,
  ) {}

  /** Position of field `id` inside the table, or 0 when absent; checks the slot fits the table. */
  private slot(id: number, width: number): number {
    const entry = 4 + 2 * id;
    if (entry + 2 > this.vtableSize) return 0;
    const off = this.v.u16(this.vtable + entry);
    if (off === 0) return 0;
    if (off < 4 || off + width > this.tableSize) {
      this.v.fail(
        'BMF_ERR_BMODEL_FLATBUFFER',
        this.vtable + entry,
        `${this.what} field ${id} at table offset ${off} (+${width}) overruns the ${this.tableSize}-byte table`,
      );
    }
    return this.pos + off;
  }

  has(id: number): boolean {
    return this.slot(id, 0) !== 0;
  }

  u32(id: number, def = 0): number {
    const p = this.slot(id, 4);
    return p ? this.v.u32(p) : def;
  }

  i32(id: number, def = 0): number {
    const p = this.slot(id, 4);
    return p ? this.v.bb.readInt32(p) : def;
  }

  u64(id: number, name: string, def = 0): number {
    const p = this.slot(id, 8);
    return p ? this.v.u64(p, `${this.what}.${name}`) : def;
  }

  f32(id: number, def: number): number {
    const p = this.slot(id, 4);
    return p ? this.v.bb.readFloat32(p) : def;
  }

  /** Inline struct Binary {start, size}. */
  binary(id: number, name: string): BinaryRange | undefined {
    const p = this.slot(id, 16);
    if (!p) return undefined;
    return this.v.binaryAt(p, `${this.what}.${name}`);
  }

  string(id: number, name: string): string | undefined {
    const p = this.slot(id, 4);
    if (!p) return undefined;
    const at = this.v.indirect(p, `${this.what}.${name}`);
    const n = this.v.u32(at);
    this.v.need(at + 4, n, p, `${this.what}.${name} (${n} bytes)`);
    this.v.charge(n, p, `${this.what}.${name}`);
    const bytes = this.v.bb.bytes();
    return utf8.decode(bytes.subarray(at + 4, at + 4 + n));
  }

  requiredString(id: number, name: string): string {
    const s = this.string(id, name);
    if (s === undefined) this.missing(name);
    return s;
  }

  table(id: number, name: string): TableView | undefined {
    const p = this.slot(id, 4);
    if (!p) return undefined;
    return this.v.table(this.v.indirect(p, name), name, p);
  }

  /** Start and length of a vector field, after checking `length * elemSize` bytes are present. */
  private vector(
    id: number,
    elemSize: number,
    name: string,
  ): { at: number; n: number; from: number } | undefined {
    const p = this.slot(id, 4);
    if (!p) return undefined;
    const at = this.v.indirect(p, `${this.what}.${name}`);
    const n = this.v.u32(at);
    this.v.need(at + 4, n * elemSize, p, `${this.what}.${name} (${n} elements)`);
    this.v.charge(n, p, `${this.what}.${name}`);
    return { at: at + 4, n, from: p };
  }

  tables(id: number, name: string): TableView[] {
    const vec = this.vector(id, 4, name);
    if (!vec) return [];
    const out: TableView[] = [];
    for (let i = 0; i < vec.n; i++) {
      const elem = vec.at + 4 * i;
      out.push(this.v.table(this.v.indirect(elem, `${name}[${i}]`), `${name}[${i}]`, elem));
    }
    return out;
  }

  u64s(id: number, name: string): number[] {
    const vec = this.vector(id, 8, name);
    if (!vec) return [];
    const out: number[] = [];
    for (let i = 0; i < vec.n; i++) out.push(this.v.u64(vec.at + 8 * i, `${name}[${i}]`));
    return out;
  }

  bytes(id: number, name: string): Uint8Array {
    const vec = this.vector(id, 1, name);
    if (!vec) return new Uint8Array(0);
    return this.v.bb.bytes().subarray(vec.at, vec.at + vec.n);
  }

  binaries(id: number, name: string): BinaryRange[] {
    const vec = this.vector(id, 16, name);
    if (!vec) return [];
    const out: BinaryRange[] = [];
    for (let i = 0; i < vec.n; i++) {
      out.push(this.v.binaryAt(vec.at + 16 * i, `${this.what}.${name}[${i}]`));
    }
    return out;
  }

  missing(name: string): never {
    this.v.fail('BMF_ERR_BMODEL_FLATBUFFER', this.pos, `${this.what} lacks required field ${name}`);
  }
}
