// The part of libsophon's C ABI the binding relies on, declared here so the binding builds without
// libsophon and dlopens it at run time. Layouts follow sophgo/libsophon bmlib_runtime.h, bmdef.h
// and bmruntime_interface.h on LP64 (docs/libsophon.md). bm_net_info_t grew fields between
// releases: only the prefix that every release shares is declared, and it is only ever read
// through the pointer libbmrt returns, field by field, never copied or sized.
#pragma once
#include <cstddef>
#include <cstdint>

namespace sophon {

using bm_status_t = int;  // 0 BM_SUCCESS ... 9 BM_NOT_SUPPORTED
using bm_handle_t = struct bm_context *;

struct bm_device_mem_t {
  unsigned long device_addr;  // union u.device / u.system: 16 bytes
  unsigned int reserved;
  int dmabuf_fd;
  unsigned int flags;
  unsigned int size;
};
static_assert(sizeof(bm_device_mem_t) == 24, "bm_device_mem_t is 24 bytes on LP64");

struct bm_shape_t {
  int num_dims;
  int dims[8];
};

struct bm_tensor_t {
  int dtype;  // bm_data_type_t
  bm_shape_t shape;
  bm_device_mem_t device_mem;
  int st_mode;  // bm_store_mode_t
};
static_assert(sizeof(bm_tensor_t) == 72, "bm_tensor_t is 72 bytes on LP64");

struct bm_dev_stat_t {
  int mem_total;  // MiB
  int mem_used;   // MiB
  int tpu_util;   // percent
  int heap_num;
  unsigned int heap_stat[4][3];
};

struct bm_stage_info_t {
  bm_shape_t *input_shapes;
  bm_shape_t *output_shapes;
  bm_device_mem_t *input_mems;
  bm_device_mem_t *output_mems;
};

// The shared prefix of bm_net_info_t (later fields differ between releases).
struct bm_net_info_prefix_t {
  const char *name;
  bool is_dynamic;
  int input_num;
  const char **input_names;
  int *input_dtypes;
  float *input_scales;
  int output_num;
  const char **output_names;
  int *output_dtypes;
  float *output_scales;
  int stage_num;
  bm_stage_info_t *stages;
  size_t *max_input_bytes;
  size_t *max_output_bytes;
  int *input_zero_point;
  int *output_zero_point;
};

// Counters only the libsophon emulator exports (bm_emu_get_counters); absent from libsophon.
struct bm_emu_counters_t {
  unsigned long long live_blocks, live_bytes, launches, read_before_sync, free_before_sync,
      bad_address;
};

// Every libsophon entry point the binding calls, resolved with dlsym.
struct Api {
  bm_status_t (*bm_dev_getcount)(int *);
  bm_status_t (*bm_dev_request)(bm_handle_t *, int);
  void (*bm_dev_free)(bm_handle_t);
  bm_status_t (*bm_malloc_device_byte)(bm_handle_t, bm_device_mem_t *, unsigned int);
  void (*bm_free_device)(bm_handle_t, bm_device_mem_t);
  bm_status_t (*bm_memcpy_s2d)(bm_handle_t, bm_device_mem_t, void *);
  bm_status_t (*bm_memcpy_d2s)(bm_handle_t, void *, bm_device_mem_t);
  bm_status_t (*bm_thread_sync)(bm_handle_t);
  bm_status_t (*bm_get_stat)(bm_handle_t, bm_dev_stat_t *);
  void *(*bmrt_create)(bm_handle_t);
  void (*bmrt_destroy)(void *);
  bool (*bmrt_load_bmodel_data)(void *, const void *, size_t);
  int (*bmrt_get_network_number)(void *);
  void (*bmrt_get_network_names)(void *, const char ***);
  const bm_net_info_prefix_t *(*bmrt_get_network_info)(void *, const char *);
  bool (*bmrt_launch_tensor)(void *, const char *, const bm_tensor_t *, int, bm_tensor_t *, int);
  size_t (*bmrt_tensor_bytesize)(const bm_tensor_t *);
  // Optional: only the emulator has it.
  bm_status_t (*bm_emu_get_counters)(bm_handle_t, bm_emu_counters_t *);
};

}  // namespace sophon
