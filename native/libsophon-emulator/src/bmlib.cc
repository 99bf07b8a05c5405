// libbmlib.so of the libsophon emulator: devices, device memory, transfers, synchronisation and
// statistics with the semantics of sophgo/libsophon bmlib (docs/libsophon.md). Contract breaches
// a real device would punish silently (leaks, reading outputs before bm_thread_sync) are counted
// and reported on stderr.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "device.h"

#if defined(BMFLEET_BOARD_GLIBC_2_17_DL)
// GCC 12 versions condition_variable::wait as GLIBCXX_3.4.30; the boards' libstdc++ (GCC 9/10)
// has the same function at GLIBCXX_3.4.11 (native/cmake/board.cmake).
__asm__(".symver _ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE,"
        "_ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE@GLIBCXX_3.4.11");
#endif

namespace {

long env_long(const char *name, long def, long lo, long hi) {
  const char *v = std::getenv(name);
  if (v == nullptr || *v == '\0') return def;
  char *end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < lo || n > hi) return def;
  return n;
}

// BMFLEET_EMULATOR_FAIL as last parsed, and how many failures it still owes.
struct Injection {
  std::mutex mu;
  std::string spec;
  std::string call;
  int status = 0;
  long remaining = -1;  // -1: every call
};
Injection injection;

int device_count() { return static_cast<int>(env_long("BMFLEET_EMULATOR_DEVICES", 1, 0, 64)); }

void worker_loop(bm_context *ctx) {
  std::unique_lock<std::mutex> lock(ctx->mu);
  for (;;) {
    ctx->work_cv.wait(lock, [ctx] { return ctx->stopping || !ctx->queue.empty(); });
    if (ctx->queue.empty()) return;
    bmemu::Job job = std::move(ctx->queue.front());
    ctx->queue.pop_front();
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    if (job.launch_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(job.launch_ms));
    job.run();
    const auto spent = std::chrono::steady_clock::now() - start;
    lock.lock();
    ctx->busy += spent;
    if (--ctx->inflight == 0) ctx->idle_cv.notify_all();
  }
}

void wait_idle(bm_context *ctx, std::unique_lock<std::mutex> &lock) {
  ctx->idle_cv.wait(lock, [ctx] { return ctx->inflight == 0; });
}

bmemu::Block *find_block(bm_context *ctx, const bm_device_mem_t &mem) {
  auto it = ctx->blocks.find(mem.u.device.device_addr);
  if (it == ctx->blocks.end() || mem.size > it->second.bytes.size()) {
    ++ctx->counters.bad_address;
    return nullptr;
  }
  return &it->second;
}

}  // namespace

extern "C" {

bool bm_emu_injected(const char *call, int *status) {
  const char *v = std::getenv("BMFLEET_EMULATOR_FAIL");
  std::lock_guard<std::mutex> lock(injection.mu);
  const std::string spec = v == nullptr ? "" : v;
  if (spec != injection.spec) {
    injection.spec = spec;
    injection.call.clear();
    injection.remaining = -1;
    const size_t a = spec.find(':');
    if (a != std::string::npos) {
      const size_t b = spec.find(':', a + 1);
      const std::string st = spec.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
      injection.call = spec.substr(0, a);
      injection.status = st == "false" ? -1 : std::atoi(st.c_str());
      if (b != std::string::npos) injection.remaining = std::atol(spec.c_str() + b + 1);
    }
  }
  if (injection.call.empty() || injection.call != call || injection.remaining == 0) return false;
  if (injection.remaining > 0) --injection.remaining;
  *status = injection.status;
  std::fprintf(stderr, "libsophon-emulator: %s fails as BMFLEET_EMULATOR_FAIL asks (%s)\n", call,
               spec.c_str());
  return true;
}

bm_status_t bm_dev_getcount(int *count) {
  if (count == nullptr) return BM_ERR_PARAM;
  *count = device_count();
  return *count > 0 ? BM_SUCCESS : BM_ERR_FAILURE;
}

bm_status_t bm_dev_query(int devid) {
  return devid >= 0 && devid < device_count() ? BM_SUCCESS : BM_ERR_PARAM;
}

bm_status_t bm_dev_request(bm_handle_t *handle, int devid) {
  if (int st = 0; bm_emu_injected("bm_dev_request", &st)) return static_cast<bm_status_t>(st < 0 ? BM_ERR_FAILURE : st);
  if (handle == nullptr) return BM_ERR_PARAM;
  if (devid < 0 || devid >= device_count()) return BM_ERR_PARAM;
  auto *ctx = new bm_context();
  ctx->devid = devid;
  ctx->total_bytes =
      static_cast<unsigned long long>(env_long("BMFLEET_EMULATOR_MEM_MB", 4096, 1, 1 << 20)) << 20;
  ctx->worker = std::thread(worker_loop, ctx);
  *handle = ctx;
  return BM_SUCCESS;
}

int bm_get_devid(bm_handle_t handle) { return handle == nullptr ? -1 : handle->devid; }

void bm_dev_free(bm_handle_t handle) {
  if (handle == nullptr) return;
  {
    std::unique_lock<std::mutex> lock(handle->mu);
    wait_idle(handle, lock);
    handle->stopping = true;
    handle->work_cv.notify_all();
  }
  handle->worker.join();
  const auto &c = handle->counters;
  if (!handle->blocks.empty()) {
    std::fprintf(stderr,
                 "bmlib emulator: bm_dev_free(dev %d): %zu device memory blocks (%llu bytes) "
                 "were never freed\n",
                 handle->devid, handle->blocks.size(), handle->used_bytes);
  }
  if (c.read_before_sync + c.free_before_sync + c.bad_address > 0) {
    std::fprintf(stderr,
                 "bmlib emulator: bm_dev_free(dev %d): %llu reads before bm_thread_sync, %llu "
                 "frees before bm_thread_sync, %llu bad device addresses\n",
                 handle->devid, c.read_before_sync, c.free_before_sync, c.bad_address);
  }
  delete handle;
}

unsigned long long bm_mem_get_device_addr(struct bm_mem_desc mem) { return mem.u.device.device_addr; }
unsigned int bm_mem_get_device_size(struct bm_mem_desc mem) { return mem.size; }

bm_status_t bm_malloc_device_byte(bm_handle_t handle, bm_device_mem_t *pmem, unsigned int size) {
  if (int st = 0; bm_emu_injected("bm_malloc_device_byte", &st)) return static_cast<bm_status_t>(st < 0 ? BM_ERR_FAILURE : st);
  if (handle == nullptr || pmem == nullptr || size == 0) return BM_ERR_PARAM;
  std::lock_guard<std::mutex> lock(handle->mu);
  if (handle->used_bytes + size > handle->total_bytes) return BM_ERR_NOMEM;
  const unsigned long addr = handle->next_addr;
  // Device addresses are 4 KiB aligned and never reused, so a stale descriptor is caught.
  handle->next_addr += (static_cast<unsigned long>(size) + 4095ul) & ~4095ul;
  handle->blocks[addr].bytes.assign(size, 0);
  handle->used_bytes += size;
  std::memset(pmem, 0, sizeof *pmem);
  pmem->u.device.device_addr = addr;
  pmem->flags.u.mem_type = BM_MEM_TYPE_DEVICE;
  pmem->size = size;
  return BM_SUCCESS;
}

void bm_free_device(bm_handle_t handle, bm_device_mem_t mem) {
  if (handle == nullptr) return;
  std::lock_guard<std::mutex> lock(handle->mu);
  auto it = handle->blocks.find(mem.u.device.device_addr);
  if (it == handle->blocks.end()) {
    ++handle->counters.bad_address;
    std::fprintf(stderr, "bmlib emulator: bm_free_device: no device memory at 0x%lx\n",
                 mem.u.device.device_addr);
    return;
  }
  if (it->second.unsynced) ++handle->counters.free_before_sync;
  handle->used_bytes -= it->second.bytes.size();
  handle->blocks.erase(it);
}

static bm_status_t copy_s2d(bm_handle_t handle, bm_device_mem_t dst, const void *src,
                            unsigned int size) {
  if (handle == nullptr || src == nullptr) return BM_ERR_PARAM;
  std::lock_guard<std::mutex> lock(handle->mu);
  bmemu::Block *b = find_block(handle, dst);
  if (b == nullptr || size > b->bytes.size()) return BM_ERR_PARAM;
  std::memcpy(b->bytes.data(), src, size);
  return BM_SUCCESS;
}

static bm_status_t copy_d2s(bm_handle_t handle, void *dst, bm_device_mem_t src, unsigned int size) {
  if (handle == nullptr || dst == nullptr) return BM_ERR_PARAM;
  std::lock_guard<std::mutex> lock(handle->mu);
  bmemu::Block *b = find_block(handle, src);
  if (b == nullptr || size > b->bytes.size()) return BM_ERR_PARAM;
  if (b->unsynced) {
    // On a device the bytes would be stale or half written; the emulator refuses them.
    ++handle->counters.read_before_sync;
    std::fprintf(stderr,
                 "bmlib emulator: bm_memcpy_d2s read device memory 0x%lx that a launch writes "
                 "before bm_thread_sync\n",
                 src.u.device.device_addr);
    return BM_ERR_BUSY;
  }
  std::memcpy(dst, b->bytes.data(), size);
  return BM_SUCCESS;
}

bm_status_t bm_memcpy_s2d(bm_handle_t handle, bm_device_mem_t dst, void *src) {
  if (int st = 0; bm_emu_injected("bm_memcpy_s2d", &st)) return static_cast<bm_status_t>(st < 0 ? BM_ERR_FAILURE : st);
  return copy_s2d(handle, dst, src, dst.size);
}
bm_status_t bm_memcpy_d2s(bm_handle_t handle, void *dst, bm_device_mem_t src) {
  if (int st = 0; bm_emu_injected("bm_memcpy_d2s", &st)) return static_cast<bm_status_t>(st < 0 ? BM_ERR_FAILURE : st);
  return copy_d2s(handle, dst, src, src.size);
}
bm_status_t bm_memcpy_s2d_partial(bm_handle_t handle, bm_device_mem_t dst, void *src,
                                  unsigned int size) {
  return copy_s2d(handle, dst, src, size);
}
bm_status_t bm_memcpy_d2s_partial(bm_handle_t handle, void *dst, bm_device_mem_t src,
                                  unsigned int size) {
  return copy_d2s(handle, dst, src, size);
}

bm_status_t bm_thread_sync(bm_handle_t handle) {
  if (int st = 0; bm_emu_injected("bm_thread_sync", &st)) return static_cast<bm_status_t>(st < 0 ? BM_ERR_FAILURE : st);
  if (handle == nullptr) return BM_ERR_PARAM;
  std::unique_lock<std::mutex> lock(handle->mu);
  wait_idle(handle, lock);
  for (auto &kv : handle->blocks) kv.second.unsynced = false;
  return BM_SUCCESS;
}

bm_status_t bm_get_stat(bm_handle_t handle, bm_dev_stat_t *stat) {
  if (handle == nullptr || stat == nullptr) return BM_ERR_PARAM;
  std::lock_guard<std::mutex> lock(handle->mu);
  const auto now = std::chrono::steady_clock::now();
  const double window = std::chrono::duration<double>(now - handle->stat_since).count();
  const double busy = std::chrono::duration<double>(handle->busy).count();
  std::memset(stat, 0, sizeof *stat);
  stat->mem_total = static_cast<int>(handle->total_bytes >> 20);
  stat->mem_used = static_cast<int>((handle->used_bytes + (1u << 20) - 1) >> 20);
  int util = window > 0 ? static_cast<int>(busy / window * 100.0 + 0.5) : 0;
  stat->tpu_util = util > 100 ? 100 : util;
  stat->heap_num = 1;
  stat->heap_stat[0].mem_total = static_cast<unsigned>(stat->mem_total);
  stat->heap_stat[0].mem_used = static_cast<unsigned>(stat->mem_used);
  stat->heap_stat[0].mem_avail = static_cast<unsigned>(stat->mem_total - stat->mem_used);
  handle->busy = {};
  handle->stat_since = now;
  return BM_SUCCESS;
}

bool bm_emu_read(bm_handle_t handle, unsigned long addr, size_t need, std::vector<uint8_t> &out) {
  std::lock_guard<std::mutex> lock(handle->mu);
  auto it = handle->blocks.find(addr);
  if (it == handle->blocks.end() || it->second.bytes.size() < need) {
    ++handle->counters.bad_address;
    return false;
  }
  out.assign(it->second.bytes.begin(), it->second.bytes.begin() + static_cast<long>(need));
  return true;
}

void bm_emu_submit(bm_handle_t handle, bmemu::Job job, const std::vector<unsigned long> &writes) {
  std::lock_guard<std::mutex> lock(handle->mu);
  for (unsigned long a : writes) {
    auto it = handle->blocks.find(a);
    if (it != handle->blocks.end()) it->second.unsynced = true;
  }
  ++handle->counters.launches;
  ++handle->inflight;
  handle->queue.push_back(std::move(job));
  handle->work_cv.notify_one();
}

void bm_emu_write(bm_handle_t handle, unsigned long addr, const std::vector<uint8_t> &bytes) {
  std::lock_guard<std::mutex> lock(handle->mu);
  auto it = handle->blocks.find(addr);
  if (it == handle->blocks.end()) return;  // freed while the launch ran (counted at the free)
  const size_t n = bytes.size() < it->second.bytes.size() ? bytes.size() : it->second.bytes.size();
  std::memcpy(it->second.bytes.data(), bytes.data(), n);
}

bm_status_t bm_emu_get_counters(bm_handle_t handle, bm_emu_counters_t *out) {
  if (handle == nullptr || out == nullptr) return BM_ERR_PARAM;
  std::lock_guard<std::mutex> lock(handle->mu);
  *out = handle->counters;
  out->live_blocks = handle->blocks.size();
  out->live_bytes = handle->used_bytes;
  return BM_SUCCESS;
}

}  // extern "C"
