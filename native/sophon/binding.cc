// Node-API binding to libsophon (bmlib + bmrt). libbmlib.so and libbmrt.so are dlopened from a
// folder given at run time, so one build works with every libsophon release, with the emulator,
// and on hosts without either (the error then names the missing library or symbol).
//
// INVARIANTS
// - Loading and inference run on AsyncWorkers (libuv's pool); the event loop only converts
//   arguments and results.
// - Every launch is followed by bm_thread_sync before any output is read, and every output's
//   device memory is freed after the call, on success and on failure alike.
// - Output bytes land in host buffers owned by the model's pool; JavaScript sees them as external
//   ArrayBuffers whose finalizer hands them back for reuse.
// - A model is not unloaded while an inference on it runs (unload fails with BM_ERR_BUSY).
#include <dlfcn.h>

#if defined(BMFLEET_BOARD_GLIBC_2_17_DL)
// glibc 2.34 moved dlopen & co. into libc under a new version; the boards' glibc 2.31 has them at
// the aarch64 baseline version 2.17 (native/cmake/board.cmake).
__asm__(".symver dlopen,dlopen@GLIBC_2.17");
__asm__(".symver dlsym,dlsym@GLIBC_2.17");
__asm__(".symver dlerror,dlerror@GLIBC_2.17");
__asm__(".symver dlclose,dlclose@GLIBC_2.17");
#endif

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <napi.h>

#include "libsophon_abi.h"

namespace {

using namespace sophon;

constexpr int kStatusFalse = -1;  // a bool API returned false

// An error raised on a worker thread, turned into a JavaScript error on the main thread.
struct Failure {
  std::string code;  // BMF_ERR_LIBSOPHON or BMF_ERR_LIBSOPHON_MISSING
  std::string call;
  int status = 0;
  std::string detail;
};

Napi::Error to_js(Napi::Env env, const Failure &f) {
  std::string msg;
  if (f.code == "BMF_ERR_LIBSOPHON_MISSING") {
    msg = "libsophon " + f.call + " not found: " + f.detail;
  } else {
    msg = "libsophon call " + f.call + " failed with status " +
          (f.status == kStatusFalse ? std::string("false") : std::to_string(f.status));
    if (!f.detail.empty()) msg += ": " + f.detail;
  }
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", f.code);
  e.Set("call", f.call);
  if (f.code == "BMF_ERR_LIBSOPHON") {
    e.Set("status", f.status == kStatusFalse ? Napi::Value(Napi::String::New(env, "false"))
                                             : Napi::Value(Napi::Number::New(env, f.status)));
  }
  e.Set("detail", f.detail);
  return e;
}

Failure call_failed(const char *call, int status, std::string detail = {}) {
  return Failure{"BMF_ERR_LIBSOPHON", call, status, std::move(detail)};
}

struct Library {
  void *bmlib = nullptr;
  void *bmrt = nullptr;
  Api api{};
  ~Library() {
    if (bmrt != nullptr) dlclose(bmrt);
    if (bmlib != nullptr) dlclose(bmlib);
  }
};

template <typename F>
bool resolve(void *lib, const char *name, F &slot, Failure &fail, const std::string &path) {
  slot = reinterpret_cast<F>(dlsym(lib, name));
  if (slot == nullptr) {
    fail = Failure{"BMF_ERR_LIBSOPHON_MISSING", std::string("symbol ") + name, 0,
                   "not exported by " + path};
    return false;
  }
  return true;
}

std::shared_ptr<Library> open_library(const std::string &dir, Failure &fail) {
  auto lib = std::make_shared<Library>();
  const std::string bmlib_path = dir + "/lib/libbmlib.so";
  const std::string bmrt_path = dir + "/lib/libbmrt.so";
  // libbmrt needs libbmlib's symbols: load it first, globally.
  lib->bmlib = dlopen(bmlib_path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (lib->bmlib == nullptr) {
    fail = Failure{"BMF_ERR_LIBSOPHON_MISSING", "library " + bmlib_path, 0, dlerror()};
    return nullptr;
  }
  lib->bmrt = dlopen(bmrt_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib->bmrt == nullptr) {
    fail = Failure{"BMF_ERR_LIBSOPHON_MISSING", "library " + bmrt_path, 0, dlerror()};
    return nullptr;
  }
  Api &a = lib->api;
  void *L = lib->bmlib;
  void *R = lib->bmrt;
  const bool ok =
      resolve(L, "bm_dev_getcount", a.bm_dev_getcount, fail, bmlib_path) &&
      resolve(L, "bm_dev_request", a.bm_dev_request, fail, bmlib_path) &&
      resolve(L, "bm_dev_free", a.bm_dev_free, fail, bmlib_path) &&
      resolve(L, "bm_malloc_device_byte", a.bm_malloc_device_byte, fail, bmlib_path) &&
      resolve(L, "bm_free_device", a.bm_free_device, fail, bmlib_path) &&
      resolve(L, "bm_memcpy_s2d", a.bm_memcpy_s2d, fail, bmlib_path) &&
      resolve(L, "bm_memcpy_d2s", a.bm_memcpy_d2s, fail, bmlib_path) &&
      resolve(L, "bm_thread_sync", a.bm_thread_sync, fail, bmlib_path) &&
      resolve(L, "bm_get_stat", a.bm_get_stat, fail, bmlib_path) &&
      resolve(R, "bmrt_create", a.bmrt_create, fail, bmrt_path) &&
      resolve(R, "bmrt_destroy", a.bmrt_destroy, fail, bmrt_path) &&
      resolve(R, "bmrt_load_bmodel_data", a.bmrt_load_bmodel_data, fail, bmrt_path) &&
      resolve(R, "bmrt_get_network_number", a.bmrt_get_network_number, fail, bmrt_path) &&
      resolve(R, "bmrt_get_network_names", a.bmrt_get_network_names, fail, bmrt_path) &&
      resolve(R, "bmrt_get_network_info", a.bmrt_get_network_info, fail, bmrt_path) &&
      resolve(R, "bmrt_launch_tensor", a.bmrt_launch_tensor, fail, bmrt_path) &&
      resolve(R, "bmrt_tensor_bytesize", a.bmrt_tensor_bytesize, fail, bmrt_path);
  if (!ok) return nullptr;
  a.bm_emu_get_counters = reinterpret_cast<decltype(a.bm_emu_get_counters)>(
      dlsym(L, "bm_emu_get_counters"));
  return lib;
}

struct DeviceState {
  std::shared_ptr<Library> lib;
  bm_handle_t handle = nullptr;
  int devid = 0;
  ~DeviceState() {
    if (handle != nullptr) lib->api.bm_dev_free(handle);
  }
};

// Host buffers for outputs, recycled between inferences.
struct OutputPool : std::enable_shared_from_this<OutputPool> {
  static constexpr size_t kMaxFree = 64;
  std::mutex mu;
  std::multimap<size_t, uint8_t *> free_list;
  ~OutputPool() {
    for (auto &kv : free_list) std::free(kv.second);
  }
  uint8_t *take(size_t size) {
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = free_list.find(size);
      if (it != free_list.end()) {
        uint8_t *p = it->second;
        free_list.erase(it);
        return p;
      }
    }
    return static_cast<uint8_t *>(std::malloc(size == 0 ? 1 : size));
  }
  void give_back(uint8_t *p, size_t size) {
    std::lock_guard<std::mutex> lock(mu);
    if (free_list.size() >= kMaxFree) {
      std::free(p);
      return;
    }
    free_list.emplace(size, p);
  }
  size_t free_count() {
    std::lock_guard<std::mutex> lock(mu);
    return free_list.size();
  }
};

struct ModelState {
  std::shared_ptr<DeviceState> dev;
  void *rt = nullptr;
  std::vector<std::string> net_names;
  std::shared_ptr<OutputPool> pool = std::make_shared<OutputPool>();
  std::atomic<int> inflight{0};
  std::atomic<unsigned long long> recycled{0};
  void destroy() {
    if (rt != nullptr) dev->lib->api.bmrt_destroy(rt);
    rt = nullptr;
  }
  ~ModelState() { destroy(); }
};

Napi::Array shape_array(Napi::Env env, const bm_shape_t &s) {
  Napi::Array a = Napi::Array::New(env, s.num_dims);
  for (int i = 0; i < s.num_dims; ++i) a.Set(i, s.dims[i]);
  return a;
}

// One net read field by field from the bm_net_info_t libbmrt returned.
Napi::Object describe_net(Napi::Env env, const bm_net_info_prefix_t *n) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", n->name);
  o.Set("isDynamic", n->is_dynamic);
  auto tensors = [&](int count, const char **names, const int *dtypes, const float *scales,
                     const int *zps, const size_t *max_bytes) {
    Napi::Array a = Napi::Array::New(env, count);
    for (int i = 0; i < count; ++i) {
      Napi::Object t = Napi::Object::New(env);
      t.Set("name", names[i]);
      t.Set("dtype", dtypes[i]);
      t.Set("scale", scales[i]);
      t.Set("zeroPoint", zps != nullptr ? zps[i] : 0);
      t.Set("maxBytes", static_cast<double>(max_bytes[i]));
      a.Set(i, t);
    }
    return a;
  };
  o.Set("inputs", tensors(n->input_num, n->input_names, n->input_dtypes, n->input_scales,
                          n->input_zero_point, n->max_input_bytes));
  o.Set("outputs", tensors(n->output_num, n->output_names, n->output_dtypes, n->output_scales,
                           n->output_zero_point, n->max_output_bytes));
  Napi::Array stages = Napi::Array::New(env, n->stage_num);
  for (int s = 0; s < n->stage_num; ++s) {
    Napi::Object st = Napi::Object::New(env);
    Napi::Array ins = Napi::Array::New(env, n->input_num);
    for (int i = 0; i < n->input_num; ++i) ins.Set(i, shape_array(env, n->stages[s].input_shapes[i]));
    Napi::Array outs = Napi::Array::New(env, n->output_num);
    for (int i = 0; i < n->output_num; ++i) {
      outs.Set(i, shape_array(env, n->stages[s].output_shapes[i]));
    }
    st.Set("inputShapes", ins);
    st.Set("outputShapes", outs);
    stages.Set(s, st);
  }
  o.Set("stages", stages);
  return o;
}

class Model;

class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, std::shared_ptr<DeviceState> dev, Napi::Uint8Array bytes)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        dev_(std::move(dev)),
        data_(bytes.Data()),
        size_(bytes.ByteLength()) {
    bytes_ref_ = Napi::Persistent(bytes);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    const Api &a = dev_->lib->api;
    model_ = std::make_shared<ModelState>();
    model_->dev = dev_;
    model_->rt = a.bmrt_create(dev_->handle);
    if (model_->rt == nullptr) {
      fail_ = call_failed("bmrt_create", kStatusFalse);
      return;
    }
    if (!a.bmrt_load_bmodel_data(model_->rt, data_, size_)) {
      fail_ = call_failed("bmrt_load_bmodel_data", kStatusFalse);
      return;
    }
    const int n = a.bmrt_get_network_number(model_->rt);
    const char **names = nullptr;
    if (n > 0) a.bmrt_get_network_names(model_->rt, &names);
    for (int i = 0; i < n && names != nullptr; ++i) model_->net_names.emplace_back(names[i]);
    std::free(names);
    if (model_->net_names.empty()) fail_ = call_failed("bmrt_get_network_number", n);
  }
  void OnOK() override;
  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<DeviceState> dev_;
  Napi::Reference<Napi::Uint8Array> bytes_ref_;
  const void *data_;
  size_t size_;
  std::shared_ptr<ModelState> model_;
  Failure fail_;
  friend class Model;
};

struct OutputResult {
  uint8_t *data = nullptr;
  size_t size = 0;
  bm_shape_t shape{};
  int dtype = 0;
};

struct FinalizeHint {
  std::weak_ptr<OutputPool> pool;
  size_t size;
};

class InferWorker : public Napi::AsyncWorker {
 public:
  InferWorker(Napi::Env env, std::shared_ptr<ModelState> model, std::string net)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)),
        model_(std::move(model)), net_(std::move(net)) {
    ++model_->inflight;
  }
  ~InferWorker() override { --model_->inflight; }
  Napi::Promise promise() { return deferred_.Promise(); }

  void add_input(Napi::Uint8Array bytes, const bm_shape_t &shape) {
    refs_.push_back(Napi::Persistent(bytes));
    inputs_.push_back({bytes.Data(), bytes.ByteLength()});
    shapes_.push_back(shape);
  }

  void Execute() override {
    const Api &a = model_->dev->lib->api;
    const bm_handle_t h = model_->dev->handle;
    const auto *info = a.bmrt_get_network_info(model_->rt, net_.c_str());
    if (info == nullptr) {
      failed_ = true;
      fail_ = call_failed("bmrt_get_network_info", kStatusFalse, "no net " + net_);
      return;
    }
    if (static_cast<int>(inputs_.size()) != info->input_num) {
      failed_ = true;
      fail_ = call_failed("bmrt_launch_tensor", kStatusFalse, "wrong number of inputs");
      return;
    }
    std::vector<bm_tensor_t> in(inputs_.size());
    std::vector<bm_tensor_t> out(static_cast<size_t>(info->output_num));
    size_t made = 0;
    for (; made < inputs_.size() && !failed_; ++made) {
      bm_tensor_t &t = in[made];
      std::memset(&t, 0, sizeof t);
      t.dtype = info->input_dtypes[made];
      t.shape = shapes_[made];
      const unsigned size = static_cast<unsigned>(inputs_[made].second);
      const int st = a.bm_malloc_device_byte(h, &t.device_mem, size);
      if (st != 0) {
        failed_ = true;
        fail_ = call_failed("bm_malloc_device_byte", st);
        break;
      }
      // The caller's bytes go to the device straight from its buffer.
      const int cp = a.bm_memcpy_s2d(h, t.device_mem, const_cast<uint8_t *>(inputs_[made].first));
      if (cp != 0) {
        failed_ = true;
        fail_ = call_failed("bm_memcpy_s2d", cp);
        ++made;
        break;
      }
    }
    bool launched = false;
    if (!failed_) {
      launched = a.bmrt_launch_tensor(model_->rt, net_.c_str(), in.data(),
                                      static_cast<int>(in.size()), out.data(),
                                      static_cast<int>(out.size()));
      if (!launched) {
        failed_ = true;
        fail_ = call_failed("bmrt_launch_tensor", kStatusFalse, "net " + net_);
      }
    }
    if (launched) {
      const int st = a.bm_thread_sync(h);
      if (st != 0) {
        failed_ = true;
        fail_ = call_failed("bm_thread_sync", st);
      }
      for (auto &t : out) {
        if (!failed_) {
          OutputResult r;
          r.size = a.bmrt_tensor_bytesize(&t);
          r.shape = t.shape;
          r.dtype = t.dtype;
          r.data = model_->pool->take(r.size);
          const int cp = a.bm_memcpy_d2s(h, r.data, t.device_mem);
          if (cp != 0) {
            model_->pool->give_back(r.data, r.size);
            failed_ = true;
            fail_ = call_failed("bm_memcpy_d2s", cp);
          } else {
            results_.push_back(r);
          }
        }
        a.bm_free_device(h, t.device_mem);
      }
    }
    for (size_t i = 0; i < made; ++i) {
      if (in[i].device_mem.size > 0) a.bm_free_device(h, in[i].device_mem);
    }
    if (failed_) {
      for (auto &r : results_) model_->pool->give_back(r.data, r.size);
      results_.clear();
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (failed_) {
      deferred_.Reject(to_js(env, fail_).Value());
      return;
    }
    Napi::Array outs = Napi::Array::New(env, results_.size());
    for (size_t k = 0; k < results_.size(); ++k) {
      const OutputResult &r = results_[k];
      auto *hint = new FinalizeHint{model_->pool, r.size};
      Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
          env, r.data, r.size,
          [](Napi::Env, void *data, FinalizeHint *h) {
            if (auto pool = h->pool.lock()) {
              pool->give_back(static_cast<uint8_t *>(data), h->size);
            } else {
              std::free(data);
            }
            delete h;
          },
          hint);
      Napi::Object o = Napi::Object::New(env);
      o.Set("data", ab);
      o.Set("shape", shape_array(env, r.shape));
      o.Set("dtype", r.dtype);
      outs.Set(k, o);
    }
    results_.clear();
    deferred_.Resolve(outs);
  }
  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<ModelState> model_;
  std::string net_;
  std::vector<Napi::Reference<Napi::Uint8Array>> refs_;
  std::vector<std::pair<const uint8_t *, size_t>> inputs_;
  std::vector<bm_shape_t> shapes_;
  std::vector<OutputResult> results_;
  bool failed_ = false;
  Failure fail_;
};

// bmrt_destroy waits for the device to go idle (bm_thread_sync on the handle every net shares)
// and frees the coefficients' device memory: on the event loop that stalls every request behind
// the launches still queued for the model that replaces this one.
class UnloadWorker : public Napi::AsyncWorker {
 public:
  UnloadWorker(Napi::Env env, std::shared_ptr<ModelState> model)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)),
        model_(std::move(model)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    if (model_) model_->destroy();
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<ModelState> model_;
};

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::FunctionReference ctor;
  static void Init(Napi::Env env) {
    Napi::Function f = DefineClass(env, "SophonModel",
                                   {InstanceMethod("describe", &Model::Describe),
                                    InstanceMethod("infer", &Model::Infer),
                                    InstanceMethod("unload", &Model::Unload),
                                    InstanceMethod("unloadAsync", &Model::UnloadAsync),
                                    InstanceMethod("poolStats", &Model::PoolStats)});
    ctor = Napi::Persistent(f);
    ctor.SuppressDestruct();
  }
  explicit Model(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Model>(info) {}
  std::shared_ptr<ModelState> state;

 private:
  ModelState &live(Napi::Env env) {
    if (!state || state->rt == nullptr) {
      throw to_js(env, call_failed("bmrt_get_network_info", kStatusFalse, "model unloaded"));
    }
    return *state;
  }

  Napi::Value Describe(const Napi::CallbackInfo &info) {
    ModelState &m = live(info.Env());
    const Api &a = m.dev->lib->api;
    Napi::Array nets = Napi::Array::New(info.Env(), m.net_names.size());
    for (size_t i = 0; i < m.net_names.size(); ++i) {
      const auto *n = a.bmrt_get_network_info(m.rt, m.net_names[i].c_str());
      if (n == nullptr) {
        throw to_js(info.Env(), call_failed("bmrt_get_network_info", kStatusFalse, m.net_names[i]));
      }
      nets.Set(i, describe_net(info.Env(), n));
    }
    return nets;
  }

  // infer(net: string, inputs: Uint8Array[], shapes: number[][]): Promise<Output[]>
  Napi::Value Infer(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    ModelState &m = live(env);
    if (!info[0].IsString() || !info[1].IsArray() || !info[2].IsArray()) {
      throw Napi::TypeError::New(env, "infer(net, inputs, shapes)");
    }
    Napi::Array inputs = info[1].As<Napi::Array>();
    Napi::Array shapes = info[2].As<Napi::Array>();
    if (inputs.Length() != shapes.Length()) throw Napi::TypeError::New(env, "inputs/shapes length");
    auto *w = new InferWorker(env, state, info[0].As<Napi::String>().Utf8Value());
    for (uint32_t i = 0; i < inputs.Length(); ++i) {
      Napi::Value v = inputs.Get(i);
      Napi::Value s = shapes.Get(i);
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
          !s.IsArray()) {
        delete w;
        throw Napi::TypeError::New(env, "inputs are Uint8Arrays, shapes arrays of dims");
      }
      Napi::Array sa = s.As<Napi::Array>();
      bm_shape_t shape{};
      shape.num_dims = static_cast<int>(sa.Length() > 8 ? 8 : sa.Length());
      for (int d = 0; d < shape.num_dims; ++d) {
        shape.dims[d] = sa.Get(static_cast<uint32_t>(d)).As<Napi::Number>().Int32Value();
      }
      w->add_input(v.As<Napi::Uint8Array>(), shape);
    }
    (void)m;
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }

  Napi::Value Unload(const Napi::CallbackInfo &info) {
    if (state) {
      if (state->inflight.load() > 0) {
        throw to_js(info.Env(), call_failed("bmrt_destroy", 7, "inferences still running"));
      }
      state->destroy();
    }
    return info.Env().Undefined();
  }

  // unloadAsync(): Promise<void>, bmrt_destroy on a worker thread. The model is unusable from
  // this call on (infer fails as after unload); outputs already handed out stay valid.
  Napi::Value UnloadAsync(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (state && state->inflight.load() > 0) {
      throw to_js(env, call_failed("bmrt_destroy", 7, "inferences still running"));
    }
    auto *w = new UnloadWorker(env, std::move(state));
    state.reset();
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }

  Napi::Value PoolStats(const Napi::CallbackInfo &info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("free", state ? static_cast<double>(state->pool->free_count()) : 0.0);
    return o;
  }
};
Napi::FunctionReference Model::ctor;

void LoadWorker::OnOK() {
  Napi::Env env = Env();
  if (!fail_.call.empty()) {
    model_.reset();  // bmrt_destroy on this thread
    deferred_.Reject(to_js(env, fail_).Value());
    return;
  }
  Napi::Object obj = Model::ctor.New({});
  Model::Unwrap(obj)->state = model_;
  deferred_.Resolve(obj);
}

class Device : public Napi::ObjectWrap<Device> {
 public:
  static Napi::FunctionReference ctor;
  static void Init(Napi::Env env) {
    Napi::Function f =
        DefineClass(env, "SophonDevice",
                    {InstanceMethod("load", &Device::Load), InstanceMethod("stat", &Device::Stat),
                     InstanceMethod("emulatorCounters", &Device::EmulatorCounters),
                     InstanceMethod("close", &Device::Close)});
    ctor = Napi::Persistent(f);
    ctor.SuppressDestruct();
  }
  explicit Device(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Device>(info) {}
  std::shared_ptr<DeviceState> state;

 private:
  DeviceState &live(Napi::Env env) {
    if (!state) throw to_js(env, call_failed("bm_dev_request", kStatusFalse, "device closed"));
    return *state;
  }
  Napi::Value Load(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    live(env);
    if (!info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(env, "load(bytes: Uint8Array)");
    }
    auto *w = new LoadWorker(env, state, info[0].As<Napi::Uint8Array>());
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }
  Napi::Value Stat(const Napi::CallbackInfo &info) {
    DeviceState &d = live(info.Env());
    bm_dev_stat_t s{};
    const int st = d.lib->api.bm_get_stat(d.handle, &s);
    if (st != 0) throw to_js(info.Env(), call_failed("bm_get_stat", st));
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("memTotalMiB", s.mem_total);
    o.Set("memUsedMiB", s.mem_used);
    o.Set("tpuUtilPercent", s.tpu_util);
    return o;
  }
  Napi::Value EmulatorCounters(const Napi::CallbackInfo &info) {
    DeviceState &d = live(info.Env());
    if (d.lib->api.bm_emu_get_counters == nullptr) return info.Env().Null();
    bm_emu_counters_t c{};
    d.lib->api.bm_emu_get_counters(d.handle, &c);
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("liveBlocks", static_cast<double>(c.live_blocks));
    o.Set("liveBytes", static_cast<double>(c.live_bytes));
    o.Set("launches", static_cast<double>(c.launches));
    o.Set("readBeforeSync", static_cast<double>(c.read_before_sync));
    o.Set("freeBeforeSync", static_cast<double>(c.free_before_sync));
    o.Set("badAddress", static_cast<double>(c.bad_address));
    return o;
  }
  Napi::Value Close(const Napi::CallbackInfo &info) {
    state.reset();  // bm_dev_free once the last model holding the device is gone
    return info.Env().Undefined();
  }
};
Napi::FunctionReference Device::ctor;

// open(dir: string, devid: number): SophonDevice
Napi::Value Open(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsNumber()) throw Napi::TypeError::New(env, "open(dir, devid)");
  Failure fail;
  auto lib = open_library(info[0].As<Napi::String>().Utf8Value(), fail);
  if (!lib) throw to_js(env, fail);
  int count = 0;
  int st = lib->api.bm_dev_getcount(&count);
  if (st != 0) throw to_js(env, call_failed("bm_dev_getcount", st));
  const int devid = info[1].As<Napi::Number>().Int32Value();
  if (devid < 0 || devid >= count) {
    throw to_js(env, call_failed("bm_dev_request", 4,
                                 "device " + std::to_string(devid) + " of " + std::to_string(count)));
  }
  auto dev = std::make_shared<DeviceState>();
  dev->lib = lib;
  dev->devid = devid;
  st = lib->api.bm_dev_request(&dev->handle, devid);
  if (st != 0) {
    dev->handle = nullptr;
    throw to_js(env, call_failed("bm_dev_request", st));
  }
  Napi::Object obj = Device::ctor.New({});
  Device::Unwrap(obj)->state = dev;
  obj.Set("deviceCount", count);
  return obj;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Model::Init(env);
  Device::Init(env);
  exports.Set("open", Napi::Function::New(env, Open));
  return exports;
}

}  // namespace

NODE_API_MODULE(bmfleet_sophon, Init)
