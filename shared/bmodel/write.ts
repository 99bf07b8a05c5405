// BMODEL writer: the same container the reader reads (64-byte header, flatbuffer Model, binary
// region), built with the flatbuffers runtime's Builder using the vendor schema's field ids and
// types (tpu-mlir bmodel.fbs), so a vendor-compatible reader accepts it. Default values are
// omitted exactly as the vendor's generated code omits them (scale defaults to 1).
import { Builder } from 'flatbuffers';
import { bmfError } from '../errors.js';
import { encodeHeader } from './header.js';
import { SIMULATOR_MODULE_NAME } from './simulator.js';
import { BMODEL_DTYPES, BMODEL_STORE_MODES } from './types.js';
import type {
  BinaryRange,
  BmodelCmdGroup,
  BmodelCoeffMem,
  BmodelDtype,
  BmodelModule,
  BmodelStoreMode,
  BmodelSubNet,
} from './types.js';

export interface BmodelTensorSpec {
  readonly name: string;
  readonly dtype: BmodelDtype;
  readonly shape: readonly number[];
  /** Extra shapes (dynamic nets); when given, `shapes[0]` must equal `shape`. */
  readonly shapes?: readonly (readonly number[])[];
  readonly storeMode?: BmodelStoreMode;
  readonly scale?: number;
  readonly zeroPoint?: number;
  /** Device bytes; defaults to elements x dtype size. */
  readonly size?: number;
  readonly deviceAddr?: number;
  readonly memType?: number;
  readonly cpuAddr?: number;
  readonly padH?: number;
  readonly hidden?: number;
  readonly index?: number;
}

export interface BmodelStageSpec {
  readonly inputs: readonly BmodelTensorSpec[];
  readonly outputs: readonly BmodelTensorSpec[];
  readonly ctxAddr?: number;
  readonly ctxSize?: number;
  readonly ctxSizes?: readonly number[];
  readonly coeffMem?: BmodelCoeffMem;
  readonly isDynamic?: boolean;
  readonly nDynamic?: boolean;
  readonly hwDynamic?: boolean;
  readonly cmdGroups?: readonly BmodelCmdGroup[];
  readonly subNets?: readonly BmodelSubNet[];
  readonly netProfile?: BinaryRange;
  readonly binaryIr?: BinaryRange;
  readonly cpuMemSize?: number;
  readonly coreNum?: number;
}

export interface BmodelNetSpec {
  readonly name: string;
  readonly addrMode?: number;
  readonly stages: readonly BmodelStageSpec[];
}

export interface BmodelSpec {
  /** Defaults 'B' and '2.2' (what the vendor's tools write). */
  readonly type?: string;
  readonly version?: string;
  /** Creation time in ctime form; defaults to now. */
  readonly time?: string;
  readonly chip: string;
  /** Defaults to the largest ctx_size. */
  readonly neuronSize?: number;
  readonly kernelModule?: BmodelModule;
  readonly cpuopModule?: BmodelModule;
  readonly deviceNum?: number;
  readonly bmodelType?: number;
  readonly libBackend?: BinaryRange;
  readonly nets: readonly BmodelNetSpec[];
  /** The binary region; every BinaryRange in the spec points into it. */
  readonly binary?: Uint8Array;
  /** Emit a simulator BMODEL carrying this payload (ONNX bytes); see simulator.ts. */
  readonly simulator?: { readonly payload: Uint8Array };
}

const DTYPE_BITS: Readonly<Record<BmodelDtype, number>> = {
  FP32: 32,
  FP16: 16,
  INT8: 8,
  UINT8: 8,
  INT16: 16,
  UINT16: 16,
  INT32: 32,
  UINT32: 32,
  BF16: 16,
  INT4: 4,
  UINT4: 4,
};

function invalid(reason: string): never {
  throw bmfError('BMF_ERR_BMODEL_INVALID', { reason });
}

function checkUint(v: number, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(v) || v < 0 || v > max)
    invalid(`${what} = ${v} is not an integer in [0, ${max}]`);
  return v;
}

/** ctime(3) form the vendor tools store, e.g. "Wed Aug 26 04:45:08 2020\n" (UTC here). */
export function vendorTime(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = [
    'Jan',
    'Feb',
    'Mar',
    'Apr',
    'May',
    'Jun',
    'Jul',
    'Aug',
    'Sep',
    'Oct',
    'Nov',
    'Dec',
  ];
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return (
    `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ` +
    `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${d.getUTCFullYear()}\n`
  );
}

export function writeBmodel(spec: BmodelSpec): Uint8Array {
  if (!spec.chip) invalid('chip is empty');
  if (spec.nets.length === 0) invalid('a BMODEL needs at least one net');
  const base = spec.binary ?? new Uint8Array(0);
  let kernelModule = spec.kernelModule;
  let binary = base;
  if (spec.simulator) {
    if (kernelModule) invalid('a simulator BMODEL cannot also carry a kernel module');
    const start = base.length;
    binary = new Uint8Array(start + spec.simulator.payload.length);
    binary.set(base);
    binary.set(spec.simulator.payload, start);
    kernelModule = {
      fileName: SIMULATOR_MODULE_NAME,
      binary: { start, size: spec.simulator.payload.length },
    };
  }
  const w = new ModelWriter(binary.length);
  const fb = w.model({ ...spec, kernelModule });
  checkUint(64 + fb.length + binary.length, 'total BMODEL size', 0xffffffff);
  const out = new Uint8Array(64 + fb.length + binary.length);
  out.set(encodeHeader(fb.length, binary.length), 0);
  out.set(fb, 64);
  out.set(binary, 64 + fb.length);
  return out;
}

class ModelWriter {
  private readonly b = new Builder(4096);

  constructor(private readonly binarySize: number) {}

  private range(r: BinaryRange, what: string): BinaryRange {
    checkUint(r.start, `${what}.start`);
    checkUint(r.size, `${what}.size`);
    if (r.start + r.size > this.binarySize) {
      invalid(
        `${what} [${r.start}, +${r.size}) ends beyond the ${this.binarySize}-byte binary region`,
      );
    }
    return r;
  }

  /** Inline struct Binary, written just before the field that holds it (flatbuffers rule). */
  private addBinary(slot: number, r: BinaryRange | undefined, what: string): void {
    if (!r) return;
    this.range(r, what);
    this.b.prep(8, 16);
    this.b.writeInt64(BigInt(r.size));
    this.b.writeInt64(BigInt(r.start));
    this.b.addFieldStruct(slot, this.b.offset(), 0);
  }

  private u64(slot: number, v: number | undefined, what: string): void {
    if (v === undefined) return;
    this.b.addFieldInt64(slot, BigInt(checkUint(v, what)), 0n);
  }

  private u32(slot: number, v: number | undefined, what: string): void {
    if (v === undefined) return;
    this.b.addFieldInt32(slot, checkUint(v, what, 0xffffffff) | 0, 0);
  }

  private i32(slot: number, v: number | undefined, what: string): void {
    if (v === undefined) return;
    if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31)
      invalid(`${what} = ${v} is not an int32`);
    this.b.addFieldInt32(slot, v, 0);
  }

  private tableVector(offsets: readonly number[]): number {
    this.b.startVector(4, offsets.length, 4);
    for (let i = offsets.length - 1; i >= 0; i--) this.b.addOffset(offsets[i] as number);
    return this.b.endVector();
  }

  private u64Vector(values: readonly number[], what: string): number {
    this.b.startVector(8, values.length, 8);
    for (let i = values.length - 1; i >= 0; i--)
      this.b.addInt64(BigInt(checkUint(values[i] as number, what)));
    return this.b.endVector();
  }

  model(spec: BmodelSpec): Uint8Array {
    const b = this.b;
    const nets = this.tableVector(spec.nets.map((n) => this.net(n)));
    const km = spec.kernelModule && this.module(spec.kernelModule, 'kernel_module');
    const cm = spec.cpuopModule && this.module(spec.cpuopModule, 'cpuop_module');
    const type = b.createString(spec.type ?? 'B');
    const version = b.createString(spec.version ?? '2.2');
    const time = b.createString(spec.time ?? vendorTime(new Date()));
    const chip = b.createString(spec.chip);
    const maxCtx = Math.max(0, ...spec.nets.flatMap((n) => n.stages.map((s) => s.ctxSize ?? 0)));
    b.startObject(11);
    this.addBinary(10, spec.libBackend, 'lib_backend');
    this.u64(5, spec.neuronSize ?? maxCtx, 'neuron_size');
    b.addFieldOffset(0, type, 0);
    b.addFieldOffset(1, version, 0);
    b.addFieldOffset(2, time, 0);
    b.addFieldOffset(3, chip, 0);
    b.addFieldOffset(4, nets, 0);
    if (km) b.addFieldOffset(6, km, 0);
    this.u32(7, spec.deviceNum, 'device_num');
    if (cm) b.addFieldOffset(8, cm, 0);
    this.u32(9, spec.bmodelType, 'bmodel_type');
    b.finish(b.endObject());
    return b.asUint8Array().slice();
  }

  private module(m: BmodelModule, what: string): number {
    if (!m.fileName) invalid(`${what}.file_name is empty`);
    const name = this.b.createString(m.fileName);
    this.b.startObject(2);
    this.addBinary(1, m.binary, `${what}.binary`);
    this.b.addFieldOffset(0, name, 0);
    return this.b.endObject();
  }

  private net(n: BmodelNetSpec): number {
    if (!n.name) invalid('net name is empty');
    if (n.stages.length === 0) invalid(`net ${n.name} has no stage`);
    const stages = this.tableVector(n.stages.map((s, i) => this.stage(s, `${n.name}.stage${i}`)));
    const name = this.b.createString(n.name);
    this.b.startObject(6);
    this.b.addFieldOffset(0, name, 0);
    this.b.addFieldOffset(3, stages, 0);
    this.i32(5, n.addrMode, 'addr_mode');
    return this.b.endObject();
  }

  private stage(s: BmodelStageSpec, what: string): number {
    const b = this.b;
    const inputs = this.tableVector(s.inputs.map((t) => this.tensor(t, what)));
    const outputs = this.tableVector(s.outputs.map((t) => this.tensor(t, what)));
    const coeff = s.coeffMem && this.coeffMem(s.coeffMem, `${what}.coeff_mem`);
    const cmdGroups =
      s.cmdGroups && this.tableVector(s.cmdGroups.map((g) => this.cmdGroup(g, what)));
    const subNets = s.subNets && this.tableVector(s.subNets.map((sn) => this.subNet(sn, what)));
    const ctxSizes =
      s.ctxSizes && s.ctxSizes.length > 0 ? this.u64Vector(s.ctxSizes, `${what}.ctx_sizes`) : 0;
    b.startObject(17);
    this.addBinary(9, s.netProfile, `${what}.net_profile`);
    this.addBinary(11, s.binaryIr, `${what}.binary_ir`);
    this.u64(2, s.ctxAddr, `${what}.ctx_addr`);
    this.u64(3, s.ctxSize, `${what}.ctx_size`);
    b.addFieldOffset(0, inputs, 0);
    b.addFieldOffset(1, outputs, 0);
    if (coeff) b.addFieldOffset(4, coeff, 0);
    this.i32(5, s.isDynamic ? 1 : 0, 'is_dynamic');
    this.i32(6, s.nDynamic ? 1 : 0, 'n_dynamic');
    this.i32(7, s.hwDynamic ? 1 : 0, 'h_w_dynamic');
    if (cmdGroups) b.addFieldOffset(8, cmdGroups, 0);
    if (subNets) b.addFieldOffset(12, subNets, 0);
    this.u32(13, s.cpuMemSize, `${what}.cpu_mem_size`);
    if (ctxSizes) b.addFieldOffset(14, ctxSizes, 0);
    this.u32(16, s.coreNum, `${what}.core_num`);
    return b.endObject();
  }

  private cmdGroup(g: BmodelCmdGroup, what: string): number {
    this.b.startObject(6);
    this.addBinary(2, g.binaryBdc, `${what}.binary_bdc`);
    this.addBinary(3, g.binaryGdma, `${what}.binary_gdma`);
    this.u32(0, g.bdcNum, 'bdc_num');
    this.u32(1, g.gdmaNum, 'gdma_num');
    this.u32(4, g.bdcCmdByte, 'bdc_cmd_byte');
    this.u32(5, g.gdmaCmdByte, 'gdma_cmd_byte');
    return this.b.endObject();
  }

  private subNet(sn: BmodelSubNet, what: string): number {
    const groups = this.tableVector(sn.cmdGroups.map((g) => this.cmdGroup(g, what)));
    this.b.startObject(15);
    this.i32(0, sn.subnetMode, 'subnet_mode');
    this.b.addFieldOffset(1, groups, 0);
    this.i32(5, sn.isDynamic ? 1 : 0, 'is_dynamic');
    this.u32(7, sn.irLen, 'ir_len');
    return this.b.endObject();
  }

  private coeffMem(c: BmodelCoeffMem, what: string): number {
    if (!/^([0-9a-f]{2})*$/.test(c.checkCode)) invalid(`${what}.check_code is not hex`);
    const check = c.checkCode ? this.b.createByteVector(Buffer.from(c.checkCode, 'hex')) : 0;
    this.b.startObject(6);
    this.addBinary(2, c.binaryCoeff, `${what}.binary_coeff`);
    this.u64(0, c.address, `${what}.address`);
    this.u64(5, c.decryptSize, `${what}.decrypt_size`);
    if (check) this.b.addFieldOffset(1, check, 0);
    this.i32(4, c.encryptMode, `${what}.encrypt_mode`);
    return this.b.endObject();
  }

  private tensor(t: BmodelTensorSpec, what: string): number {
    const b = this.b;
    const where = `${what}.${t.name}`;
    if (!t.name) invalid(`${what} has a tensor without a name`);
    const dataType = BMODEL_DTYPES.indexOf(t.dtype);
    if (dataType < 0) invalid(`${where} has unknown dtype ${String(t.dtype)}`);
    const stmode = BMODEL_STORE_MODES.indexOf(t.storeMode ?? '1N');
    if (stmode < 0) invalid(`${where} has unknown store mode ${String(t.storeMode)}`);
    const shapes = t.shapes && t.shapes.length > 0 ? t.shapes : [t.shape];
    const shapeTables = shapes.map((dims) => {
      const v = this.u64Vector(dims, `${where}.shape`);
      b.startObject(1);
      b.addFieldOffset(0, v, 0);
      return b.endObject();
    });
    const shapeVec = this.tableVector(shapeTables);
    const name = b.createString(t.name);
    const elements = t.shape.reduce((n, d) => n * d, 1);
    const size = t.size ?? Math.ceil((elements * DTYPE_BITS[t.dtype]) / 8);
    b.startObject(13);
    this.u64(3, t.deviceAddr, `${where}.device_addr`);
    this.u64(4, size, `${where}.size`);
    b.addFieldOffset(0, name, 0);
    this.u32(1, dataType, 'data_type');
    this.i32(2, stmode, 'gmem_stmode');
    b.addFieldOffset(5, shapeVec, 0);
    this.u32(6, t.memType, `${where}.mem_type`);
    if (t.scale !== undefined && !Number.isFinite(t.scale)) invalid(`${where}.scale is not finite`);
    b.addFieldFloat32(7, t.scale ?? 1, 1);
    this.u32(8, t.cpuAddr, `${where}.cpu_addr`);
    this.u32(9, t.padH, `${where}.pad_h`);
    this.i32(10, t.zeroPoint, `${where}.zero_point`);
    this.i32(11, t.hidden, `${where}.hidden`);
    this.i32(12, t.index, `${where}.index`);
    return b.endObject();
  }
}
