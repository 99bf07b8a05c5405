// BMODEL reader: header, then the flatbuffer `Model` walked with bounds-checked accessors
// (flatbuffer-view.ts), then Binary ranges checked against the binary region. Field ids follow
// the vendor schema (tpu-mlir include/tpu_mlir/Builder/BM168x/bmodel.fbs; docs/vendor.md section 2).
import { readFile } from 'node:fs/promises';
import { bmfError } from '../errors.js';
import { parseHeader } from './header.js';
import { FlatbufferView } from './flatbuffer-view.js';
import type { TableView } from './flatbuffer-view.js';
import { BMODEL_DTYPES, BMODEL_HEADER_SIZE, BMODEL_STORE_MODES } from './types.js';
import type {
  Bmodel,
  BmodelCmdGroup,
  BmodelCoeffMem,
  BmodelModule,
  BmodelNet,
  BmodelStage,
  BmodelSubNet,
  BmodelTensor,
} from './types.js';

/** Field ids (the schema's `id:` attributes). */
const MODEL = {
  type: 0,
  version: 1,
  time: 2,
  chip: 3,
  net: 4,
  neuronSize: 5,
  kernelModule: 6,
  deviceNum: 7,
  cpuopModule: 8,
  bmodelType: 9,
  libBackend: 10,
} as const;
const NET = { name: 0, parameter: 3, addrMode: 5 } as const;
const PARAM = {
  input: 0,
  output: 1,
  ctxAddr: 2,
  ctxSize: 3,
  coeffMem: 4,
  isDynamic: 5,
  nDynamic: 6,
  hwDynamic: 7,
  cmdGroup: 8,
  netProfile: 9,
  binaryIr: 11,
  subNet: 12,
  cpuMemSize: 13,
  ctxSizes: 14,
  coreNum: 16,
} as const;
const TENSOR = {
  name: 0,
  dataType: 1,
  gmemStmode: 2,
  deviceAddr: 3,
  size: 4,
  shape: 5,
  memType: 6,
  scale: 7,
  cpuAddr: 8,
  padH: 9,
  zeroPoint: 10,
  hidden: 11,
  index: 12,
} as const;
const CMD_GROUP = {
  bdcNum: 0,
  gdmaNum: 1,
  binaryBdc: 2,
  binaryGdma: 3,
  bdcCmdByte: 4,
  gdmaCmdByte: 5,
} as const;
const SUB_NET = { subnetMode: 0, cmdGroup: 1, isDynamic: 5, irLen: 7 } as const;
const COEFF = { address: 0, checkCode: 1, binaryCoeff: 2, encryptMode: 4, decryptSize: 5 } as const;
const MODULE = { fileName: 0, binary: 1 } as const;

export function readBmodel(bytes: Uint8Array): Bmodel {
  const header = parseHeader(bytes);
  const fbStart = BMODEL_HEADER_SIZE;
  const view = new FlatbufferView(
    bytes.subarray(fbStart, fbStart + header.flatbuffersSize),
    fbStart,
    header.binarySize,
  );
  const m = view.root();
  const nets = m.tables(MODEL.net, 'net').map(readNet);
  if (!m.has(MODEL.net)) m.missing('net');
  const kernelModule = readModule(m.table(MODEL.kernelModule, 'kernel_module'));
  const cpuopModule = readModule(m.table(MODEL.cpuopModule, 'cpuop_module'));
  const libBackend = m.binary(MODEL.libBackend, 'lib_backend');
  return {
    header,
    type: m.requiredString(MODEL.type, 'type'),
    version: m.requiredString(MODEL.version, 'version'),
    time: m.requiredString(MODEL.time, 'time'),
    chip: m.requiredString(MODEL.chip, 'chip'),
    neuronSize: m.u64(MODEL.neuronSize, 'neuron_size'),
    ...(kernelModule && { kernelModule }),
    ...(cpuopModule && { cpuopModule }),
    deviceNum: m.u32(MODEL.deviceNum),
    bmodelType: m.u32(MODEL.bmodelType),
    ...(libBackend && { libBackend }),
    nets,
  };
}

export async function readBmodelFile(path: string): Promise<Bmodel> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw bmfError('BMF_ERR_IO', { path, reason: (e as Error).message }, { cause: e });
  }
  return readBmodel(bytes);
}

function readModule(t: TableView | undefined): BmodelModule | undefined {
  if (!t) return undefined;
  const binary = t.binary(MODULE.binary, 'binary') ?? t.missing('binary');
  return { fileName: t.requiredString(MODULE.fileName, 'file_name'), binary };
}

function readNet(t: TableView): BmodelNet {
  return {
    name: t.requiredString(NET.name, 'name'),
    addrMode: t.i32(NET.addrMode),
    stages: t.tables(NET.parameter, 'parameter').map(readStage),
  };
}

function readStage(t: TableView): BmodelStage {
  if (!t.has(PARAM.input)) t.missing('input_tensor');
  if (!t.has(PARAM.output)) t.missing('output_tensor');
  const coeffMem = readCoeffMem(t.table(PARAM.coeffMem, 'coeff_mem'));
  const netProfile = t.binary(PARAM.netProfile, 'net_profile');
  const binaryIr = t.binary(PARAM.binaryIr, 'binary_ir');
  return {
    inputs: t.tables(PARAM.input, 'input_tensor').map(readTensor),
    outputs: t.tables(PARAM.output, 'output_tensor').map(readTensor),
    ctxAddr: t.u64(PARAM.ctxAddr, 'ctx_addr'),
    ctxSize: t.u64(PARAM.ctxSize, 'ctx_size'),
    ctxSizes: t.u64s(PARAM.ctxSizes, 'ctx_sizes'),
    ...(coeffMem && { coeffMem }),
    isDynamic: t.i32(PARAM.isDynamic) !== 0,
    nDynamic: t.i32(PARAM.nDynamic) !== 0,
    hwDynamic: t.i32(PARAM.hwDynamic) !== 0,
    cmdGroups: t.tables(PARAM.cmdGroup, 'cmd_group').map(readCmdGroup),
    subNets: t.tables(PARAM.subNet, 'sub_net').map(readSubNet),
    ...(netProfile && { netProfile }),
    ...(binaryIr && { binaryIr }),
    cpuMemSize: t.u32(PARAM.cpuMemSize),
    coreNum: t.u32(PARAM.coreNum),
  };
}

const ZERO_RANGE = { start: 0, size: 0 } as const;

function readCmdGroup(t: TableView): BmodelCmdGroup {
  return {
    bdcNum: t.u32(CMD_GROUP.bdcNum),
    gdmaNum: t.u32(CMD_GROUP.gdmaNum),
    binaryBdc: t.binary(CMD_GROUP.binaryBdc, 'binary_bdc') ?? ZERO_RANGE,
    binaryGdma: t.binary(CMD_GROUP.binaryGdma, 'binary_gdma') ?? ZERO_RANGE,
    bdcCmdByte: t.u32(CMD_GROUP.bdcCmdByte),
    gdmaCmdByte: t.u32(CMD_GROUP.gdmaCmdByte),
  };
}

function readSubNet(t: TableView): BmodelSubNet {
  return {
    subnetMode: t.i32(SUB_NET.subnetMode),
    isDynamic: t.i32(SUB_NET.isDynamic) !== 0,
    irLen: t.u32(SUB_NET.irLen),
    cmdGroups: t.tables(SUB_NET.cmdGroup, 'cmd_group').map(readCmdGroup),
  };
}

function readCoeffMem(t: TableView | undefined): BmodelCoeffMem | undefined {
  if (!t) return undefined;
  return {
    address: t.u64(COEFF.address, 'address'),
    checkCode: Buffer.from(t.bytes(COEFF.checkCode, 'check_code')).toString('hex'),
    binaryCoeff: t.binary(COEFF.binaryCoeff, 'binary_coeff') ?? ZERO_RANGE,
    encryptMode: t.i32(COEFF.encryptMode),
    decryptSize: t.u64(COEFF.decryptSize, 'decrypt_size'),
  };
}

function readTensor(t: TableView): BmodelTensor {
  const name = t.requiredString(TENSOR.name, 'name');
  const dataType = t.u32(TENSOR.dataType);
  const dtype = BMODEL_DTYPES[dataType];
  if (dtype === undefined) {
    throw bmfError('BMF_ERR_BMODEL_UNSUPPORTED', {
      offset: t.pos,
      reason: `tensor ${name} has data_type ${dataType} (known: 0..${BMODEL_DTYPES.length - 1})`,
    });
  }
  const gmemStmode = t.i32(TENSOR.gmemStmode);
  const storeMode = BMODEL_STORE_MODES[gmemStmode];
  if (storeMode === undefined) {
    throw bmfError('BMF_ERR_BMODEL_UNSUPPORTED', {
      offset: t.pos,
      reason: `tensor ${name} has gmem_stmode ${gmemStmode} (known: 0 1N, 1 2N, 2 4N)`,
    });
  }
  const shapes = t.tables(TENSOR.shape, 'shape').map((s) => s.u64s(0, 'dim'));
  return {
    name,
    dataType,
    dtype,
    gmemStmode,
    storeMode,
    shape: shapes[0] ?? [],
    shapes,
    scale: t.f32(TENSOR.scale, 1),
    zeroPoint: t.i32(TENSOR.zeroPoint),
    size: t.u64(TENSOR.size, 'size'),
    deviceAddr: t.u64(TENSOR.deviceAddr, 'device_addr'),
    memType: t.u32(TENSOR.memType),
    cpuAddr: t.u32(TENSOR.cpuAddr),
    padH: t.u32(TENSOR.padH),
    hidden: t.i32(TENSOR.hidden),
    index: t.i32(TENSOR.index),
  };
}
