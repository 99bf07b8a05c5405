// BMODEL reader of the libsophon emulator. Field ids follow the vendor schema (tpu-mlir
// include/tpu_mlir/Builder/BM168x/bmodel.fbs): Model, Net, NetParameter, Tensor, Shape.
#include "bmodel.h"

#include <cstring>
#include <stdexcept>

namespace bmemu {
namespace {

constexpr uint32_t kMagic = 0xFF55AAEEu;
constexpr size_t kHeaderSize = 64;
constexpr size_t kMaxVector = 1u << 20;

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A bounds-checked view of one flatbuffer.
class Flat {
 public:
  Flat(const uint8_t *p, size_t n) : p_(p), n_(n) {}

  template <typename T>
  T read(size_t off) const {
    if (off > n_ || n_ - off < sizeof(T)) fail(off, "read past the end of the flatbuffer");
    T v;
    std::memcpy(&v, p_ + off, sizeof(T));
    return v;
  }

  size_t root() const { return deref(0); }

  // Position of field `id` of the table at `table`, or 0 when absent.
  size_t field(size_t table, unsigned id) const {
    const int32_t soff = read<int32_t>(table);
    const int64_t vt = static_cast<int64_t>(table) - soff;
    if (vt < 0 || static_cast<size_t>(vt) >= n_) fail(table, "vtable out of bounds");
    const uint16_t vt_size = read<uint16_t>(static_cast<size_t>(vt));
    const size_t slot = 4 + 2 * static_cast<size_t>(id);
    if (slot + 2 > vt_size) return 0;
    const uint16_t fo = read<uint16_t>(static_cast<size_t>(vt) + slot);
    return fo == 0 ? 0 : table + fo;
  }

  size_t deref(size_t at) const {
    const uint32_t rel = read<uint32_t>(at);
    const size_t target = at + rel;
    if (target >= n_) fail(at, "offset out of bounds");
    return target;
  }

  std::string str(size_t table, unsigned id) const {
    const size_t f = field(table, id);
    if (f == 0) return {};
    const size_t s = deref(f);
    const uint32_t len = read<uint32_t>(s);
    if (len > n_ - s - 4) fail(s, "string longer than the flatbuffer");
    return std::string(reinterpret_cast<const char *>(p_ + s + 4), len);
  }

  template <typename T>
  T scalar(size_t table, unsigned id, T def) const {
    const size_t f = field(table, id);
    return f == 0 ? def : read<T>(f);
  }

  // Start and length of the vector in field `id` (length 0 when absent).
  std::pair<size_t, uint32_t> vec(size_t table, unsigned id, size_t elem) const {
    const size_t f = field(table, id);
    if (f == 0) return {0, 0};
    const size_t v = deref(f);
    const uint32_t len = read<uint32_t>(v);
    if (len > kMaxVector || static_cast<size_t>(len) * elem > n_ - v - 4) {
      fail(v, "vector longer than the flatbuffer");
    }
    return {v + 4, len};
  }

  [[noreturn]] static void fail(size_t off, const char *what) {
    throw ParseError(std::string(what) + " at flatbuffer offset " + std::to_string(off));
  }

 private:
  const uint8_t *p_;
  size_t n_;
};

TensorDesc read_tensor(const Flat &fb, size_t t) {
  TensorDesc d;
  d.name = fb.str(t, 0);
  d.data_type = fb.scalar<uint32_t>(t, 1, 0);
  d.store_mode = fb.scalar<int32_t>(t, 2, 0);
  d.scale = fb.scalar<float>(t, 7, 1.0f);
  d.zero_point = fb.scalar<int32_t>(t, 10, 0);
  if (d.data_type > 10) Flat::fail(t, "tensor data_type unknown");
  if (d.store_mode < 0 || d.store_mode > 2) Flat::fail(t, "tensor gmem_stmode unknown");
  auto [shapes, n_shapes] = fb.vec(t, 5, 4);
  if (n_shapes == 0) Flat::fail(t, "tensor without shape");
  const size_t shape = fb.deref(shapes);
  auto [dims, n_dims] = fb.vec(shape, 0, 8);
  if (n_dims > 8) Flat::fail(shape, "shape has more than 8 dims");
  for (uint32_t i = 0; i < n_dims; ++i) {
    const uint64_t dim = fb.read<uint64_t>(dims + 8 * i);
    if (dim == 0 || dim > (1u << 30)) Flat::fail(dims, "shape dim out of range");
    d.shape.push_back(static_cast<int64_t>(dim));
  }
  return d;
}

std::vector<TensorDesc> read_tensors(const Flat &fb, size_t table, unsigned id) {
  std::vector<TensorDesc> out;
  auto [v, n] = fb.vec(table, id, 4);
  for (uint32_t i = 0; i < n; ++i) out.push_back(read_tensor(fb, fb.deref(v + 4 * i)));
  return out;
}

}  // namespace

bool parse_bmodel(const uint8_t *data, size_t size, ModelDesc &out, std::string &error) {
  if (data == nullptr || size < kHeaderSize) {
    error = "file shorter than the 64-byte header";
    return false;
  }
  uint32_t header[4];
  std::memcpy(header, data, sizeof header);
  if (header[0] != kMagic) {
    error = "bad magic";
    return false;
  }
  if (header[1] != kHeaderSize) {
    error = "header_size is not 64";
    return false;
  }
  const uint64_t fb_size = header[2];
  const uint64_t bin_size = header[3];
  if (kHeaderSize + fb_size + bin_size > size) {
    error = "file shorter than header + flatbuffer + binary";
    return false;
  }
  try {
    const Flat fb(data + kHeaderSize, static_cast<size_t>(fb_size));
    const size_t model = fb.root();
    out = ModelDesc{};
    out.type = fb.str(model, 0);
    out.version = fb.str(model, 1);
    out.time = fb.str(model, 2);
    out.chip = fb.str(model, 3);
    out.neuron_size = fb.scalar<uint64_t>(model, 5, 0);
    out.binary_size = bin_size;
    auto [nets, n_nets] = fb.vec(model, 4, 4);
    if (n_nets == 0) Flat::fail(model, "model without nets");
    for (uint32_t i = 0; i < n_nets; ++i) {
      const size_t net = fb.deref(nets + 4 * i);
      NetDesc nd;
      nd.name = fb.str(net, 0);
      nd.addr_mode = fb.scalar<int32_t>(net, 5, 0);
      auto [params, n_params] = fb.vec(net, 3, 4);
      if (n_params == 0) Flat::fail(net, "net without parameter (stages)");
      for (uint32_t s = 0; s < n_params; ++s) {
        const size_t p = fb.deref(params + 4 * s);
        StageDesc sd;
        sd.inputs = read_tensors(fb, p, 0);
        sd.outputs = read_tensors(fb, p, 1);
        sd.ctx_size = fb.scalar<uint64_t>(p, 3, 0);
        if (fb.scalar<uint32_t>(p, 5, 0) != 0) nd.is_dynamic = true;
        if (sd.inputs.empty() || sd.outputs.empty()) Flat::fail(p, "stage without tensors");
        if (!nd.stages.empty() && (sd.inputs.size() != nd.stages[0].inputs.size() ||
                                   sd.outputs.size() != nd.stages[0].outputs.size())) {
          Flat::fail(p, "stages disagree on the number of tensors");
        }
        nd.stages.push_back(std::move(sd));
      }
      out.nets.push_back(std::move(nd));
    }
  } catch (const ParseError &e) {
    error = e.what();
    return false;
  }
  return true;
}

}  // namespace bmemu
