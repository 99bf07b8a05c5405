// libbmrt.so of the libsophon emulator: loads real BMODEL files, reports their nets through
// bm_net_info_t, and runs launches on the emulated device's queue. Outputs follow the
// deterministic function documented in docs/libsophon.md ("Emulator outputs"), so tests can
// compute the expected bytes on their own. Failures return false and print a line on stderr, as
// libbmrt does.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bmodel.h"
#include "bmruntime_interface.h"
#include "device.h"

namespace {

void log_error(const char *call, const char *fmt, ...) {
  std::fprintf(stderr, "[BMRT emulator] %s: ", call);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
}

long env_ms(const char *name) {
  const char *v = std::getenv(name);
  if (v == nullptr || *v == '\0') return 0;
  char *end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return (*end == '\0' && n > 0 && n < 600000) ? n : 0;
}

int dtype_size(uint32_t dtype) {
  switch (dtype) {
    case BM_FLOAT32:
    case BM_INT32:
    case BM_UINT32:
      return 4;
    case BM_FLOAT16:
    case BM_BFLOAT16:
    case BM_INT16:
    case BM_UINT16:
      return 2;
    case BM_INT8:
    case BM_UINT8:
      return 1;
    default:
      return 0;  // INT4/UINT4: not supported by the emulator
  }
}

bm_shape_t to_shape(const std::vector<int64_t> &dims) {
  bm_shape_t s{};
  s.num_dims = static_cast<int>(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) s.dims[i] = static_cast<int>(dims[i]);
  return s;
}

bool same_shape(const bm_shape_t &a, const bm_shape_t &b) {
  if (a.num_dims != b.num_dims) return false;
  for (int i = 0; i < a.num_dims; ++i) {
    if (a.dims[i] != b.dims[i]) return false;
  }
  return true;
}

size_t count_of(const bm_shape_t &s) {
  size_t n = 1;
  for (int i = 0; i < s.num_dims; ++i) n *= static_cast<size_t>(s.dims[i]);
  return n;
}

// Batch-interleaving group of a store mode: 4N keeps 4 batch items per element, 2N two.
size_t group_of(int st_mode) { return st_mode == BM_STORE_4N ? 4 : st_mode == BM_STORE_2N ? 2 : 1; }

size_t stored_bytes(const bm_shape_t &s, uint32_t dtype, int st_mode) {
  const size_t g = group_of(st_mode);
  const size_t es = static_cast<size_t>(dtype_size(dtype));
  if (g == 1 || s.num_dims == 0) return count_of(s) * es;
  const size_t n = static_cast<size_t>(s.dims[0]);
  const size_t per_item = count_of(s) / n;
  return (n + g - 1) / g * g * per_item * es;
}

// Converts between 1N and an interleaved store mode: element r of batch item n sits at
// ((n / g) * per_item + r) * g + n % g.
std::vector<uint8_t> interleave(const std::vector<uint8_t> &src, const bm_shape_t &s, size_t es,
                                size_t g, bool to_interleaved) {
  const size_t n = static_cast<size_t>(s.dims[0]);
  const size_t per_item = count_of(s) / n;
  std::vector<uint8_t> out(to_interleaved ? (n + g - 1) / g * g * per_item * es
                                          : n * per_item * es);
  for (size_t b = 0; b < n; ++b) {
    for (size_t r = 0; r < per_item; ++r) {
      const size_t plain = (b * per_item + r) * es;
      const size_t packed = (((b / g) * per_item + r) * g + b % g) * es;
      if (to_interleaved) {
        std::memcpy(&out[packed], &src[plain], es);
      } else {
        std::memcpy(&out[plain], &src[packed], es);
      }
    }
  }
  return out;
}

constexpr uint32_t kFnvOffset = 0x811C9DC5u;
constexpr uint32_t kFnvPrime = 0x01000193u;

uint32_t hash_bytes(uint32_t h, const uint8_t *p, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint32_t w = static_cast<uint32_t>(p[i]) | static_cast<uint32_t>(p[i + 1]) << 8 |
                       static_cast<uint32_t>(p[i + 2]) << 16 |
                       static_cast<uint32_t>(p[i + 3]) << 24;
    h = (h ^ w) * kFnvPrime;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
  return h;
}

uint32_t element_bits(uint32_t seed, uint32_t k, uint32_t j) {
  uint32_t x = seed ^ ((k + 1u) * 0x9E3779B1u);
  x += j * 0x85EBCA6Bu;
  x ^= x >> 16;
  x *= 0x7FEB352Du;
  x ^= x >> 15;
  return x;
}

void encode(uint32_t x, uint32_t dtype, uint8_t *dst) {
  switch (dtype) {
    case BM_FLOAT32: {
      const float v = static_cast<float>(static_cast<int32_t>(x % 2048u) - 1024) / 1024.0f;
      std::memcpy(dst, &v, 4);
      return;
    }
    case BM_FLOAT16: {
      const uint16_t v = static_cast<uint16_t>(x & 0x3BFFu);
      std::memcpy(dst, &v, 2);
      return;
    }
    case BM_BFLOAT16: {
      const uint16_t v = static_cast<uint16_t>(x & 0x3F7Fu);
      std::memcpy(dst, &v, 2);
      return;
    }
    case BM_INT16:
    case BM_UINT16: {
      const uint16_t v = static_cast<uint16_t>(x);
      std::memcpy(dst, &v, 2);
      return;
    }
    case BM_INT8:
    case BM_UINT8:
      *dst = static_cast<uint8_t>(x);
      return;
    default:
      std::memcpy(dst, &x, 4);
  }
}

struct LoadedNet {
  bmemu::NetDesc desc;
  std::vector<const char *> in_names, out_names;
  std::vector<bm_data_type_t> in_dtypes, out_dtypes;
  std::vector<float> in_scales, out_scales;
  std::vector<int> in_zp, out_zp, in_loc, out_loc;
  std::vector<size_t> max_in, max_out;
  std::vector<std::vector<bm_shape_t>> in_shapes, out_shapes;
  std::vector<std::vector<bm_device_mem_t>> in_mems, out_mems;
  std::vector<bm_stage_info_t> stages;
  bm_net_info_t info{};

  explicit LoadedNet(bmemu::NetDesc d) : desc(std::move(d)) {
    const auto &s0 = desc.stages[0];
    for (const auto &t : s0.inputs) {
      in_names.push_back(t.name.c_str());
      in_dtypes.push_back(static_cast<bm_data_type_t>(t.data_type));
      in_scales.push_back(t.scale);
      in_zp.push_back(t.zero_point);
      in_loc.push_back(0);
    }
    for (const auto &t : s0.outputs) {
      out_names.push_back(t.name.c_str());
      out_dtypes.push_back(static_cast<bm_data_type_t>(t.data_type));
      out_scales.push_back(t.scale);
      out_zp.push_back(t.zero_point);
      out_loc.push_back(0);
    }
    max_in.assign(s0.inputs.size(), 0);
    max_out.assign(s0.outputs.size(), 0);
    for (const auto &st : desc.stages) {
      std::vector<bm_shape_t> is, os;
      for (size_t i = 0; i < st.inputs.size(); ++i) {
        is.push_back(to_shape(st.inputs[i].shape));
        const size_t b = count_of(is.back()) * dtype_size(st.inputs[i].data_type);
        if (b > max_in[i]) max_in[i] = b;
      }
      for (size_t i = 0; i < st.outputs.size(); ++i) {
        os.push_back(to_shape(st.outputs[i].shape));
        const size_t b = count_of(os.back()) * dtype_size(st.outputs[i].data_type);
        if (b > max_out[i]) max_out[i] = b;
      }
      in_shapes.push_back(std::move(is));
      out_shapes.push_back(std::move(os));
      in_mems.emplace_back(st.inputs.size(), bm_device_mem_t{});
      out_mems.emplace_back(st.outputs.size(), bm_device_mem_t{});
    }
    for (size_t s = 0; s < desc.stages.size(); ++s) {
      stages.push_back(bm_stage_info_t{in_shapes[s].data(), out_shapes[s].data(),
                                       in_mems[s].data(), out_mems[s].data()});
    }
    info.name = desc.name.c_str();
    info.is_dynamic = desc.is_dynamic;
    info.input_num = static_cast<int>(in_names.size());
    info.input_names = in_names.data();
    info.input_dtypes = in_dtypes.data();
    info.input_scales = in_scales.data();
    info.output_num = static_cast<int>(out_names.size());
    info.output_names = out_names.data();
    info.output_dtypes = out_dtypes.data();
    info.output_scales = out_scales.data();
    info.stage_num = static_cast<int>(stages.size());
    info.stages = stages.data();
    info.max_input_bytes = max_in.data();
    info.max_output_bytes = max_out.data();
    info.input_zero_point = in_zp.data();
    info.output_zero_point = out_zp.data();
    info.input_loc_devices = in_loc.data();
    info.output_loc_devices = out_loc.data();
    info.core_num = 1;
    info.addr_mode = desc.addr_mode;
  }
};

struct Bmrt {
  bm_handle_t handle;
  std::mutex mu;
  std::vector<std::unique_ptr<LoadedNet>> nets;
  std::vector<bm_device_mem_t> model_mems;
};

LoadedNet *find_net(Bmrt *rt, const char *name) {
  if (name == nullptr) return nullptr;
  std::lock_guard<std::mutex> lock(rt->mu);
  for (auto &n : rt->nets) {
    if (n->desc.name == name) return n.get();
  }
  return nullptr;
}

struct OutputPlan {
  unsigned long addr;
  bm_shape_t shape;
  uint32_t dtype;
  int st_mode;
};

// Computes every output of one launch from the inputs' 1N bytes (docs/libsophon.md).
std::vector<std::vector<uint8_t>> compute_outputs(const std::vector<std::vector<uint8_t>> &inputs,
                                                  const std::vector<bm_shape_t> &in_shapes,
                                                  const std::vector<OutputPlan> &outs) {
  const size_t n = in_shapes[0].num_dims > 0 ? static_cast<size_t>(in_shapes[0].dims[0]) : 1;
  bool batched = n > 0;
  for (const auto &s : in_shapes) batched = batched && s.num_dims > 0 && s.dims[0] == (int)n;
  for (const auto &o : outs) batched = batched && o.shape.num_dims > 0 && o.shape.dims[0] == (int)n;
  const size_t items = batched ? n : 1;
  std::vector<uint32_t> seeds(items, kFnvOffset);
  for (size_t b = 0; b < items; ++b) {
    for (const auto &in : inputs) {
      const size_t per = in.size() / items;
      seeds[b] = hash_bytes(seeds[b], in.data() + b * per, per);
    }
  }
  std::vector<std::vector<uint8_t>> result;
  for (uint32_t k = 0; k < outs.size(); ++k) {
    const auto &o = outs[k];
    const size_t es = static_cast<size_t>(dtype_size(o.dtype));
    const size_t per = count_of(o.shape) / items;
    std::vector<uint8_t> bytes(count_of(o.shape) * es);
    for (size_t b = 0; b < items; ++b) {
      for (size_t j = 0; j < per; ++j) {
        encode(element_bits(seeds[b], k, static_cast<uint32_t>(j)), o.dtype,
               &bytes[(b * per + j) * es]);
      }
    }
    const size_t g = group_of(o.st_mode);
    if (g > 1) bytes = interleave(bytes, o.shape, es, g, true);
    result.push_back(std::move(bytes));
  }
  return result;
}

bool launch(void *p_bmrt, const char *net_name, const bm_tensor_t in[], int n_in,
            bm_tensor_t out[], int n_out, bool user_mem, bool user_stmode, const char *call) {
  auto *rt = static_cast<Bmrt *>(p_bmrt);
  if (rt == nullptr) return false;
  if (int st = 0; bm_emu_injected(call, &st)) return false;
  LoadedNet *net = find_net(rt, net_name);
  if (net == nullptr) {
    log_error(call, "net %s not found", net_name == nullptr ? "(null)" : net_name);
    return false;
  }
  const auto &info = net->info;
  if (n_in != info.input_num || n_out != info.output_num || in == nullptr || out == nullptr) {
    log_error(call, "net %s has %d inputs and %d outputs, got %d and %d", net_name,
              info.input_num, info.output_num, n_in, n_out);
    return false;
  }
  int stage = -1;
  for (int s = 0; s < info.stage_num && stage < 0; ++s) {
    bool all = true;
    for (int i = 0; i < n_in && all; ++i) all = same_shape(in[i].shape, net->in_shapes[s][i]);
    if (all) stage = s;
  }
  if (stage < 0) {
    log_error(call, "net %s: input shapes match none of its %d stages", net_name, info.stage_num);
    return false;
  }
  const auto &sd = net->desc.stages[stage];
  std::vector<std::vector<uint8_t>> inputs(n_in);
  std::vector<bm_shape_t> in_shapes;
  for (int i = 0; i < n_in; ++i) {
    if (static_cast<uint32_t>(in[i].dtype) != sd.inputs[i].data_type) {
      log_error(call, "net %s: input %d dtype %d, the net needs %u", net_name, i, in[i].dtype,
                sd.inputs[i].data_type);
      return false;
    }
    // Inputs are read in the store mode each input tensor states (bmrt_tensor sets 1N).
    const int st = in[i].st_mode;
    const size_t need = stored_bytes(in[i].shape, sd.inputs[i].data_type, st);
    if (in[i].device_mem.size < need ||
        !bm_emu_read(rt->handle, in[i].device_mem.u.device.device_addr, need, inputs[i])) {
      log_error(call, "net %s: input %d device memory holds %u bytes, needs %zu", net_name, i,
                in[i].device_mem.size, need);
      return false;
    }
    const size_t g = group_of(st);
    if (g > 1) {
      inputs[i] = interleave(inputs[i], in[i].shape, dtype_size(sd.inputs[i].data_type), g, false);
    }
    in_shapes.push_back(in[i].shape);
  }
  std::vector<OutputPlan> plans;
  std::vector<unsigned long> writes;
  for (int k = 0; k < n_out; ++k) {
    const bm_shape_t shape = net->out_shapes[stage][k];
    const uint32_t dtype = sd.outputs[k].data_type;
    // user_stmode: the caller chose each output's store mode in output_tensors[k].st_mode.
    const int st = user_stmode ? out[k].st_mode : BM_STORE_1N;
    const size_t need = stored_bytes(shape, dtype, st);
    if (user_mem) {
      if (out[k].device_mem.size < need) {
        log_error(call, "net %s: output %d device memory holds %u bytes, needs %zu", net_name, k,
                  out[k].device_mem.size, need);
        return false;
      }
    } else if (bm_malloc_device_byte(rt->handle, &out[k].device_mem,
                                     static_cast<unsigned>(need)) != BM_SUCCESS) {
      for (int j = 0; j < k; ++j) bm_free_device(rt->handle, out[j].device_mem);
      log_error(call, "net %s: no device memory for output %d (%zu bytes)", net_name, k, need);
      return false;
    }
    out[k].dtype = static_cast<bm_data_type_t>(dtype);
    out[k].shape = shape;
    out[k].st_mode = static_cast<bm_store_mode_t>(st);
    plans.push_back(OutputPlan{out[k].device_mem.u.device.device_addr, shape, dtype, st});
    writes.push_back(plans.back().addr);
  }
  bm_handle_t handle = rt->handle;
  bmemu::Job job;
  job.launch_ms = static_cast<int>(env_ms("BMFLEET_EMULATOR_LAUNCH_MS"));
  job.run = [handle, inputs = std::move(inputs), in_shapes = std::move(in_shapes), plans]() {
    const auto bytes = compute_outputs(inputs, in_shapes, plans);
    for (size_t k = 0; k < plans.size(); ++k) bm_emu_write(handle, plans[k].addr, bytes[k]);
  };
  bm_emu_submit(handle, std::move(job), writes);
  return true;
}

}  // namespace

extern "C" {

uint64_t bmrt_shape_count(const bm_shape_t *shape) { return shape == nullptr ? 0 : count_of(*shape); }

bool bmrt_shape_is_same(const bm_shape_t *left, const bm_shape_t *right) {
  return left != nullptr && right != nullptr && same_shape(*left, *right);
}

size_t bmrt_data_type_size(bm_data_type_t dtype) { return static_cast<size_t>(dtype_size(dtype)); }

size_t bmrt_tensor_bytesize(const bm_tensor_t *tensor) {
  return tensor == nullptr ? 0 : count_of(tensor->shape) * dtype_size(tensor->dtype);
}

size_t bmrt_tensor_device_size(const bm_tensor_t *tensor) {
  return tensor == nullptr ? 0 : tensor->device_mem.size;
}

bool bmrt_tensor(bm_tensor_t *tensor, void *p_bmrt, bm_data_type_t dtype, bm_shape_t shape) {
  auto *rt = static_cast<Bmrt *>(p_bmrt);
  if (tensor == nullptr || rt == nullptr || dtype_size(dtype) == 0) return false;
  if (shape.num_dims < 0 || shape.num_dims > BM_MAX_DIMS_NUM) return false;
  tensor->dtype = dtype;
  tensor->shape = shape;
  tensor->st_mode = BM_STORE_1N;
  const size_t bytes = count_of(shape) * dtype_size(dtype);
  return bm_malloc_device_byte(rt->handle, &tensor->device_mem, static_cast<unsigned>(bytes)) ==
         BM_SUCCESS;
}

void bmrt_tensor_with_device(bm_tensor_t *tensor, bm_device_mem_t device_mem,
                             bm_data_type_t dtype, bm_shape_t shape) {
  if (tensor == nullptr) return;
  tensor->dtype = dtype;
  tensor->shape = shape;
  tensor->device_mem = device_mem;
  tensor->st_mode = BM_STORE_1N;
}

void *bmrt_create(bm_handle_t bm_handle) {
  if (int st = 0; bm_emu_injected("bmrt_create", &st)) return nullptr;
  if (bm_handle == nullptr) return nullptr;
  auto *rt = new Bmrt();
  rt->handle = bm_handle;
  return rt;
}

void bmrt_destroy(void *p_bmrt) {
  auto *rt = static_cast<Bmrt *>(p_bmrt);
  if (rt == nullptr) return;
  bm_thread_sync(rt->handle);
  for (const auto &m : rt->model_mems) bm_free_device(rt->handle, m);
  delete rt;
}

void *bmrt_get_bm_handle(void *p_bmrt) {
  return p_bmrt == nullptr ? nullptr : static_cast<Bmrt *>(p_bmrt)->handle;
}

bool bmrt_load_bmodel_data(void *p_bmrt, const void *bmodel_data, size_t size) {
  if (int st = 0; bm_emu_injected("bmrt_load_bmodel_data", &st)) return false;
  auto *rt = static_cast<Bmrt *>(p_bmrt);
  if (rt == nullptr) return false;
  bmemu::ModelDesc model;
  std::string error;
  if (!bmemu::parse_bmodel(static_cast<const uint8_t *>(bmodel_data), size, model, error)) {
    log_error("bmrt_load_bmodel_data", "invalid bmodel: %s", error.c_str());
    return false;
  }
  const char *want_chip = std::getenv("BMFLEET_EMULATOR_CHIP");
  if (want_chip != nullptr && *want_chip != '\0' && model.chip != want_chip) {
    log_error("bmrt_load_bmodel_data", "bmodel is for %s, the device is %s", model.chip.c_str(),
              want_chip);
    return false;
  }
  for (const auto &n : model.nets) {
    for (const auto &st : n.stages) {
      for (const auto *ts : {&st.inputs, &st.outputs}) {
        for (const auto &t : *ts) {
          if (dtype_size(t.data_type) == 0) {
            log_error("bmrt_load_bmodel_data", "net %s: tensor %s has unsupported dtype %u",
                      n.name.c_str(), t.name.c_str(), t.data_type);
            return false;
          }
        }
      }
    }
    if (find_net(rt, n.name.c_str()) != nullptr) {
      log_error("bmrt_load_bmodel_data", "net %s is already loaded", n.name.c_str());
      return false;
    }
  }
  const long load_ms = env_ms("BMFLEET_EMULATOR_LOAD_MS");
  if (load_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(load_ms));
  // The coefficients (binary region) and the nets' neuron memory live in device memory.
  std::vector<bm_device_mem_t> mems;
  for (uint64_t bytes : {model.binary_size, model.neuron_size}) {
    if (bytes == 0) continue;
    bm_device_mem_t m{};
    if (bytes > 0xFFFFFFFFull ||
        bm_malloc_device_byte(rt->handle, &m, static_cast<unsigned>(bytes)) != BM_SUCCESS) {
      for (const auto &done : mems) bm_free_device(rt->handle, done);
      log_error("bmrt_load_bmodel_data", "not enough device memory for %llu bytes",
                static_cast<unsigned long long>(bytes));
      return false;
    }
    mems.push_back(m);
  }
  std::lock_guard<std::mutex> lock(rt->mu);
  rt->model_mems.insert(rt->model_mems.end(), mems.begin(), mems.end());
  for (auto &n : model.nets) rt->nets.push_back(std::make_unique<LoadedNet>(std::move(n)));
  return true;
}

bool bmrt_load_bmodel(void *p_bmrt, const char *bmodel_path) {
  if (p_bmrt == nullptr || bmodel_path == nullptr) return false;
  std::ifstream f(bmodel_path, std::ios::binary);
  if (!f) {
    log_error("bmrt_load_bmodel", "cannot open %s", bmodel_path);
    return false;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return bmrt_load_bmodel_data(p_bmrt, bytes.data(), bytes.size());
}

int bmrt_get_network_number(void *p_bmrt) {
  auto *rt = static_cast<Bmrt *>(p_bmrt);
  if (rt == nullptr) return 0;
  std::lock_guard<std::mutex> lock(rt->mu);
  return static_cast<int>(rt->nets.size());
}

void bmrt_get_network_names(void *p_bmrt, const char ***network_names) {
  auto *rt = static_cast<Bmrt *>(p_bmrt);
  if (rt == nullptr || network_names == nullptr) return;
  std::lock_guard<std::mutex> lock(rt->mu);
  // The caller frees the array (not the strings) with free(), as with libbmrt.
  auto **names = static_cast<const char **>(std::malloc(sizeof(char *) * (rt->nets.size() + 1)));
  for (size_t i = 0; i < rt->nets.size(); ++i) names[i] = rt->nets[i]->desc.name.c_str();
  names[rt->nets.size()] = nullptr;
  *network_names = names;
}

const bm_net_info_t *bmrt_get_network_info(void *p_bmrt, const char *net_name) {
  LoadedNet *n = p_bmrt == nullptr ? nullptr : find_net(static_cast<Bmrt *>(p_bmrt), net_name);
  return n == nullptr ? nullptr : &n->info;
}

int bmrt_get_network_index(void *p_bmrt, const char *net_name) {
  auto *rt = static_cast<Bmrt *>(p_bmrt);
  if (rt == nullptr || net_name == nullptr) return -1;
  std::lock_guard<std::mutex> lock(rt->mu);
  for (size_t i = 0; i < rt->nets.size(); ++i) {
    if (rt->nets[i]->desc.name == net_name) return static_cast<int>(i);
  }
  return -1;
}

bool bmrt_launch_tensor(void *p_bmrt, const char *net_name, const bm_tensor_t input_tensors[],
                        int input_num, bm_tensor_t output_tensors[], int output_num) {
  return launch(p_bmrt, net_name, input_tensors, input_num, output_tensors, output_num, false,
                false, "bmrt_launch_tensor");
}

bool bmrt_launch_tensor_ex(void *p_bmrt, const char *net_name, const bm_tensor_t input_tensors[],
                           int input_num, bm_tensor_t output_tensors[], int output_num,
                           bool user_mem, bool user_stmode) {
  return launch(p_bmrt, net_name, input_tensors, input_num, output_tensors, output_num, user_mem,
                user_stmode, "bmrt_launch_tensor_ex");
}

bool bmrt_launch_data(void *p_bmrt, const char *net_name, void *const input_datas[],
                      const bm_shape_t input_shapes[], int input_num, void *output_datas[],
                      bm_shape_t output_shapes[], int output_num, bool user_mem) {
  auto *rt = static_cast<Bmrt *>(p_bmrt);
  const bm_net_info_t *info = bmrt_get_network_info(p_bmrt, net_name);
  if (info == nullptr || input_num != info->input_num || output_num != info->output_num) {
    log_error("bmrt_launch_data", "net %s not found or wrong tensor count",
              net_name == nullptr ? "(null)" : net_name);
    return false;
  }
  std::vector<bm_tensor_t> in(input_num), out(output_num);
  bool ok = true;
  int made = 0;
  for (; made < input_num && ok; ++made) {
    ok = bmrt_tensor(&in[made], p_bmrt, info->input_dtypes[made], input_shapes[made]) &&
         bm_memcpy_s2d(rt->handle, in[made].device_mem, input_datas[made]) == BM_SUCCESS;
    if (!ok) ++made;
  }
  ok = ok && launch(p_bmrt, net_name, in.data(), input_num, out.data(), output_num, false, false,
                    "bmrt_launch_data");
  const bool launched = ok;
  ok = ok && bm_thread_sync(rt->handle) == BM_SUCCESS;
  for (int k = 0; k < output_num && launched; ++k) {
    const size_t bytes = bmrt_tensor_bytesize(&out[k]);
    if (ok && !user_mem) output_datas[k] = std::malloc(bytes);
    ok = ok && bm_memcpy_d2s(rt->handle, output_datas[k], out[k].device_mem) == BM_SUCCESS;
    output_shapes[k] = out[k].shape;
    bm_free_device(rt->handle, out[k].device_mem);
  }
  for (int i = 0; i < made; ++i) {
    if (in[i].device_mem.size > 0) bm_free_device(rt->handle, in[i].device_mem);
  }
  return ok;
}

}  // extern "C"
