// The emulated device behind a bm_handle_t: host memory standing in for device memory, a worker
// thread standing in for the TPU's in-order command queue, and the counters the emulator keeps on
// how the API was used. Shared by libbmlib.so (which owns it) and libbmrt.so (which submits work).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "bmlib_runtime.h"

struct bm_emu_counters_t {
  unsigned long long live_blocks;
  unsigned long long live_bytes;
  unsigned long long launches;
  unsigned long long read_before_sync;
  unsigned long long free_before_sync;
  unsigned long long bad_address;
};

namespace bmemu {

struct Block {
  std::vector<uint8_t> bytes;
  // Written by a launch that no bm_thread_sync has covered yet: reading it is a contract breach.
  bool unsynced = false;
};

struct Job {
  int launch_ms = 0;
  std::function<void()> run;
};

}  // namespace bmemu

struct bm_context {
  int devid = 0;
  std::mutex mu;
  std::condition_variable idle_cv;
  std::condition_variable work_cv;
  std::map<unsigned long, bmemu::Block> blocks;
  unsigned long next_addr = 0x100000000ul;
  unsigned long long used_bytes = 0;
  unsigned long long total_bytes = 0;
  std::deque<bmemu::Job> queue;
  int inflight = 0;
  bool stopping = false;
  std::thread worker;
  std::chrono::steady_clock::duration busy{};
  std::chrono::steady_clock::time_point stat_since = std::chrono::steady_clock::now();
  bm_emu_counters_t counters{};
};

extern "C" {
// Emulator-only entry points (not part of libsophon): libbmrt uses the first three; callers that
// want to check their use of the API read the counters. A real libsophon lacks them.
bool bm_emu_read(bm_handle_t handle, unsigned long addr, size_t need, std::vector<uint8_t> &out);
void bm_emu_submit(bm_handle_t handle, bmemu::Job job, const std::vector<unsigned long> &writes);
void bm_emu_write(bm_handle_t handle, unsigned long addr, const std::vector<uint8_t> &bytes);
bm_status_t bm_emu_get_counters(bm_handle_t handle, bm_emu_counters_t *out);
// Failure injection for tests: BMFLEET_EMULATOR_FAIL="call:status[:count]" makes the next
// `count` calls of `call` (every call when no count) fail with bm_status_t `status`, or return
// false/NULL when status is "false". Returns true and sets *status (-1 for false) when this call
// is to fail. The count restarts whenever the variable's value changes.
bool bm_emu_injected(const char *call, int *status);
}
