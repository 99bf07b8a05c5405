// The BMODEL container as the emulator reads it: a 64-byte header, a flatbuffer (root Model),
// then the binary region. Only what the runtime API reports is kept. Every read is bounds-checked;
// a malformed file gives an error string, never a crash.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bmemu {

struct TensorDesc {
  std::string name;
  uint32_t data_type = 0;
  int32_t store_mode = 0;
  std::vector<int64_t> shape;
  float scale = 1.0f;
  int32_t zero_point = 0;
};

struct StageDesc {
  std::vector<TensorDesc> inputs;
  std::vector<TensorDesc> outputs;
  uint64_t ctx_size = 0;
};

struct NetDesc {
  std::string name;
  bool is_dynamic = false;
  int32_t addr_mode = 0;
  std::vector<StageDesc> stages;
};

struct ModelDesc {
  std::string type, version, time, chip;
  uint64_t neuron_size = 0;
  uint64_t binary_size = 0;
  std::vector<NetDesc> nets;
};

// Parses `data` (`size` bytes). Returns true and fills `out`, or false with `error` set.
bool parse_bmodel(const uint8_t *data, size_t size, ModelDesc &out, std::string &error);

}  // namespace bmemu
