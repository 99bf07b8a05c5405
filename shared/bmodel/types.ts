// Plain typed values for a BMODEL, mirroring the vendor schema (tpu-mlir bmodel.fbs, namespace
// bmodel). Field names are camelCase versions of the schema's; uint64 fields are `number` and the
// reader refuses values above Number.MAX_SAFE_INTEGER rather than losing precision.

/** Vendor data_type codes 0..10 (docs/vendor.md section 2; bm_data_type_t). */
export const BMODEL_DTYPES = [
  'FP32',
  'FP16',
  'INT8',
  'UINT8',
  'INT16',
  'UINT16',
  'INT32',
  'UINT32',
  'BF16',
  'INT4',
  'UINT4',
] as const;
export type BmodelDtype = (typeof BMODEL_DTYPES)[number];

/** The names the vendor model tool prints for the same codes (`tpu_model --info`). */
export const VENDOR_DTYPE_NAMES: Readonly<Record<BmodelDtype, string>> = {
  FP32: 'float32',
  FP16: 'float16',
  INT8: 'int8',
  UINT8: 'uint8',
  INT16: 'int16',
  UINT16: 'uint16',
  INT32: 'int32',
  UINT32: 'uint32',
  BF16: 'bfloat16',
  INT4: 'int4',
  UINT4: 'uint4',
};

/** gmem_stmode codes: BM_STORE_1N = 0, BM_STORE_2N = 1, BM_STORE_4N = 2 (bm_store_mode_t). */
export const BMODEL_STORE_MODES = ['1N', '2N', '4N'] as const;
export type BmodelStoreMode = (typeof BMODEL_STORE_MODES)[number];

/** The vendor chips bmfleet targets; `chip` strings outside this list are still read. */
export const BMODEL_CHIPS = ['BM1684', 'BM1684X', 'BM1688'] as const;

export const BMODEL_MAGIC = 0xff55aaee;
export const BMODEL_HEADER_SIZE = 64;

/** The 64-byte header (MODEL_HEADER_T): magic, header_size, flatbuffers_size, binary_size, reserved[12]. */
export interface BmodelHeader {
  readonly magic: number;
  readonly headerSize: number;
  readonly flatbuffersSize: number;
  readonly binarySize: number;
  readonly reserved: readonly number[];
}

/** struct Binary { start: uint64; size: uint64 }, relative to the start of the binary region. */
export interface BinaryRange {
  readonly start: number;
  readonly size: number;
}

export interface BmodelModule {
  readonly fileName: string;
  readonly binary: BinaryRange;
}

export interface BmodelCoeffMem {
  readonly address: number;
  /** check_code bytes (sha256 of the coefficients) as lower-case hex; '' when absent. */
  readonly checkCode: string;
  readonly binaryCoeff: BinaryRange;
  readonly encryptMode: number;
  readonly decryptSize: number;
}

export interface BmodelCmdGroup {
  readonly bdcNum: number;
  readonly gdmaNum: number;
  readonly binaryBdc: BinaryRange;
  readonly binaryGdma: BinaryRange;
  readonly bdcCmdByte: number;
  readonly gdmaCmdByte: number;
}

/** The parts of a SubNet the info printout and memory figures need. */
export interface BmodelSubNet {
  /** 0 TPU, 1 CPU. */
  readonly subnetMode: number;
  readonly isDynamic: boolean;
  readonly irLen: number;
  readonly cmdGroups: readonly BmodelCmdGroup[];
}

export interface BmodelTensor {
  readonly name: string;
  readonly dataType: number;
  readonly dtype: BmodelDtype;
  readonly gmemStmode: number;
  readonly storeMode: BmodelStoreMode;
  /** shape[0].dim: the one shape of a static net (the max shape of a dynamic one). */
  readonly shape: readonly number[];
  /** Every Shape entry (dynamic nets may carry one per stage). */
  readonly shapes: readonly (readonly number[])[];
  readonly scale: number;
  readonly zeroPoint: number;
  readonly size: number;
  readonly deviceAddr: number;
  readonly memType: number;
  readonly cpuAddr: number;
  readonly padH: number;
  readonly hidden: number;
  readonly index: number;
}

export interface BmodelStage {
  readonly inputs: readonly BmodelTensor[];
  readonly outputs: readonly BmodelTensor[];
  readonly ctxAddr: number;
  readonly ctxSize: number;
  readonly ctxSizes: readonly number[];
  readonly coeffMem?: BmodelCoeffMem;
  readonly isDynamic: boolean;
  readonly nDynamic: boolean;
  readonly hwDynamic: boolean;
  readonly cmdGroups: readonly BmodelCmdGroup[];
  readonly subNets: readonly BmodelSubNet[];
  readonly netProfile?: BinaryRange;
  readonly binaryIr?: BinaryRange;
  readonly cpuMemSize: number;
  readonly coreNum: number;
}

export interface BmodelNet {
  readonly name: string;
  readonly addrMode: number;
  readonly stages: readonly BmodelStage[];
}

export interface Bmodel {
  readonly header: BmodelHeader;
  readonly type: string;
  readonly version: string;
  readonly time: string;
  readonly chip: string;
  readonly neuronSize: number;
  readonly kernelModule?: BmodelModule;
  readonly cpuopModule?: BmodelModule;
  readonly deviceNum: number;
  readonly bmodelType: number;
  readonly libBackend?: BinaryRange;
  readonly nets: readonly BmodelNet[];
}
