/* bmlib_runtime.h of the libsophon emulator: the subset of libsophon's bmlib C API that bmfleet
 * uses, with the same names, signatures and struct layouts as sophgo/libsophon
 * bmlib/include/bmlib_runtime.h (see docs/libsophon.md). */
#ifndef BMLIB_RUNTIME_H_
#define BMLIB_RUNTIME_H_
#include <stdbool.h>
#include <stddef.h>

#if defined(__cplusplus)
extern "C" {
#endif

typedef enum {
  BM_SUCCESS = 0,
  BM_ERR_DEVNOTREADY = 1,
  BM_ERR_FAILURE = 2,
  BM_ERR_TIMEOUT = 3,
  BM_ERR_PARAM = 4,
  BM_ERR_NOMEM = 5,
  BM_ERR_DATA = 6,
  BM_ERR_BUSY = 7,
  BM_ERR_NOFEATURE = 8,
  BM_NOT_SUPPORTED = 9
} bm_status_t;

typedef enum {
  BM_MEM_TYPE_DEVICE = 0,
  BM_MEM_TYPE_HOST = 1,
  BM_MEM_TYPE_SYSTEM = 2,
  BM_MEM_TYPE_INT8_DEVICE = 3,
  BM_MEM_TYPE_INVALID = 4
} bm_mem_type_t;

typedef union {
  struct {
    bm_mem_type_t mem_type : 3;
    unsigned int gmem_heapid : 3;
    unsigned int reserved : 26;
  } u;
  unsigned int rawflags;
} bm_mem_flags_t;

/* 24 bytes on LP64. */
typedef struct bm_mem_desc {
  union {
    struct {
      unsigned long device_addr;
      unsigned int reserved;
      int dmabuf_fd;
    } device;
    struct {
      void *system_addr;
      unsigned int reserved0;
      int reserved1;
    } system;
  } u;
  bm_mem_flags_t flags;
  unsigned int size;
} bm_mem_desc_t;

typedef struct bm_mem_desc bm_device_mem_t;
typedef struct bm_mem_desc bm_system_mem_t;

struct bm_context;
typedef struct bm_context *bm_handle_t;

struct bm_heap_stat {
  unsigned int mem_total;
  unsigned int mem_avail;
  unsigned int mem_used;
};

/* mem_total / mem_used in MiB, tpu_util in percent. */
typedef struct bm_dev_stat {
  int mem_total;
  int mem_used;
  int tpu_util;
  int heap_num;
  struct bm_heap_stat heap_stat[4];
} bm_dev_stat_t;

bm_status_t bm_dev_getcount(int *count);
bm_status_t bm_dev_query(int devid);
bm_status_t bm_dev_request(bm_handle_t *handle, int devid);
int bm_get_devid(bm_handle_t handle);
void bm_dev_free(bm_handle_t handle);

unsigned long long bm_mem_get_device_addr(struct bm_mem_desc mem);
unsigned int bm_mem_get_device_size(struct bm_mem_desc mem);

bm_status_t bm_malloc_device_byte(bm_handle_t handle, bm_device_mem_t *pmem, unsigned int size);
void bm_free_device(bm_handle_t handle, bm_device_mem_t mem);

bm_status_t bm_memcpy_s2d(bm_handle_t handle, bm_device_mem_t dst, void *src);
bm_status_t bm_memcpy_d2s(bm_handle_t handle, void *dst, bm_device_mem_t src);
bm_status_t bm_memcpy_s2d_partial(bm_handle_t handle, bm_device_mem_t dst, void *src,
                                  unsigned int size);
bm_status_t bm_memcpy_d2s_partial(bm_handle_t handle, void *dst, bm_device_mem_t src,
                                  unsigned int size);

bm_status_t bm_thread_sync(bm_handle_t handle);
bm_status_t bm_get_stat(bm_handle_t handle, bm_dev_stat_t *stat);

#if defined(__cplusplus)
}
#endif
#endif /* BMLIB_RUNTIME_H_ */
