// The subset of onnx.proto bmfleet reads and writes, as proto3 text parsed by protobufjs. Field
// numbers are the public onnx.proto ones (onnx/onnx, onnx/onnx.proto). Every singular scalar is
// `optional` so that presence survives a round trip the way proto2 (ONNX's own syntax) keeps it:
// onnxruntime checks has_i()/has_f() on attributes, so an INT attribute of 0 must still be
// written. Sub-messages bmfleet never looks into (training info, local functions, sparse tensors,
// quantization annotations) are declared as `bytes` with their real numbers: the wire type of a
// message and of bytes is the same (2), so they are carried through unchanged, not dropped.
import protobuf from 'protobufjs';

export const ONNX_PROTO = `
syntax = "proto3";
package onnx;

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}

message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional bytes segment = 3;
  repeated float float_data = 4;
  repeated int32 int32_data = 5;
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7;
  optional string name = 8;
  optional bytes raw_data = 9;
  repeated double double_data = 10;
  repeated uint64 uint64_data = 11;
  optional string doc_string = 12;
  repeated StringStringEntryProto external_data = 13;
  optional int32 data_location = 14;
  repeated StringStringEntryProto metadata_props = 16;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
    optional string denotation = 3;
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  message Sequence {
    optional TypeProto elem_type = 1;
  }
  message Map {
    optional int32 key_type = 1;
    optional TypeProto value_type = 2;
  }
  message Optional {
    optional TypeProto elem_type = 1;
  }
  oneof value {
    Tensor tensor_type = 1;
    Sequence sequence_type = 4;
    Map map_type = 5;
    bytes sparse_tensor_type = 8;
    Optional optional_type = 9;
  }
  optional string denotation = 6;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
  repeated StringStringEntryProto metadata_props = 4;
}

message AttributeProto {
  optional string name = 1;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  optional GraphProto g = 6;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
  optional string doc_string = 13;
  optional bytes tp = 14;
  repeated bytes type_protos = 15;
  optional int32 type = 20;
  optional string ref_attr_name = 21;
  optional bytes sparse_tensor = 22;
  repeated bytes sparse_tensors = 23;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
  optional string domain = 7;
  optional string overload = 8;
  repeated StringStringEntryProto metadata_props = 9;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
  repeated bytes quantization_annotation = 14;
  repeated bytes sparse_initializer = 15;
  repeated StringStringEntryProto metadata_props = 16;
}

message ModelProto {
  optional int64 ir_version = 1;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
  repeated StringStringEntryProto metadata_props = 14;
  repeated bytes training_info = 20;
  repeated bytes functions = 25;
}
`;

let modelType: protobuf.Type | undefined;

/** The protobufjs type of onnx.ModelProto, parsed once per process (the schema is constant). */
export function onnxModelType(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO).root.lookupType('onnx.ModelProto');
  return modelType;
}
