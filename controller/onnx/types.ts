// Plain objects mirroring the ONNX messages in schema.ts (protobufjs camelCase names). int64
// fields are JS numbers: exact up to 2^53; larger magnitudes (INT64_MAX used as "to the end" in
// Slice) saturate to the int64 range when re-encoded, which keeps their meaning.

export interface OnnxStringEntry {
  key?: string;
  value?: string;
}

export interface OnnxOpsetId {
  domain?: string;
  version?: number;
}

/** TensorProto.DataType codes (onnx.proto). */
export const ONNX_DTYPE = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;

export const ONNX_DTYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(ONNX_DTYPE).map(([name, code]) => [code, name]),
);

export interface OnnxTensor {
  name?: string;
  dims?: number[];
  dataType?: number;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  doubleData?: number[];
  uint64Data?: number[];
  stringData?: Uint8Array[];
  rawData?: Uint8Array;
  docString?: string;
  externalData?: OnnxStringEntry[];
  /** 1 = EXTERNAL: the bytes live in another file, which bmfleet does not read. */
  dataLocation?: number;
  segment?: Uint8Array;
  metadataProps?: OnnxStringEntry[];
}

export interface OnnxDimension {
  dimValue?: number;
  dimParam?: string;
  denotation?: string;
}

export interface OnnxType {
  tensorType?: { elemType?: number; shape?: { dim?: OnnxDimension[] } };
  sequenceType?: { elemType?: OnnxType };
  mapType?: { keyType?: number; valueType?: OnnxType };
  optionalType?: { elemType?: OnnxType };
  sparseTensorType?: Uint8Array;
  denotation?: string;
}

export interface OnnxValueInfo {
  name?: string;
  type?: OnnxType;
  docString?: string;
  metadataProps?: OnnxStringEntry[];
}

/** AttributeProto.AttributeType codes (onnx.proto). */
export const ONNX_ATTR = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
} as const;

export interface OnnxAttribute {
  name?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  tensors?: OnnxTensor[];
  graphs?: OnnxGraph[];
  docString?: string;
  refAttrName?: string;
  tp?: Uint8Array;
  typeProtos?: Uint8Array[];
  sparseTensor?: Uint8Array;
  sparseTensors?: Uint8Array[];
}

export interface OnnxNode {
  name?: string;
  opType?: string;
  domain?: string;
  input?: string[];
  output?: string[];
  attribute?: OnnxAttribute[];
  docString?: string;
  overload?: string;
  metadataProps?: OnnxStringEntry[];
}

export interface OnnxGraph {
  name?: string;
  node?: OnnxNode[];
  initializer?: OnnxTensor[];
  input?: OnnxValueInfo[];
  output?: OnnxValueInfo[];
  valueInfo?: OnnxValueInfo[];
  docString?: string;
  quantizationAnnotation?: Uint8Array[];
  sparseInitializer?: Uint8Array[];
  metadataProps?: OnnxStringEntry[];
}

/** A decoded ONNX ModelProto. `graph` is always present after loadOnnx. */
export interface OnnxModel {
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph: OnnxGraph;
  opsetImport?: OnnxOpsetId[];
  metadataProps?: OnnxStringEntry[];
  trainingInfo?: Uint8Array[];
  functions?: Uint8Array[];
}

/** A graph input or output as bmfleet uses it: name, element type and shape. */
export interface OnnxIo {
  readonly name: string;
  readonly elemType: number;
  /** A number for a fixed dimension, a string (dim_param) or null for an unknown one. */
  readonly dims: readonly (number | string | null)[];
}
