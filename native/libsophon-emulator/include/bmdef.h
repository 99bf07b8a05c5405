/* bmdef.h of the libsophon emulator: data types, store modes, shapes and tensors as in
 * sophgo/libsophon bmruntime/include/bmdef.h (see docs/libsophon.md). */
#ifndef BMDEF_H_
#define BMDEF_H_
#include "bmlib_runtime.h"

#if defined(__cplusplus)
extern "C" {
#endif

typedef enum bm_data_type_e {
  BM_FLOAT32 = 0,
  BM_FLOAT16 = 1,
  BM_INT8 = 2,
  BM_UINT8 = 3,
  BM_INT16 = 4,
  BM_UINT16 = 5,
  BM_INT32 = 6,
  BM_UINT32 = 7,
  BM_BFLOAT16 = 8,
  BM_INT4 = 9,
  BM_UINT4 = 10
} bm_data_type_t;

typedef enum bm_store_mode_e {
  BM_STORE_1N = 0,
  BM_STORE_2N = 1,
  BM_STORE_4N = 2
} bm_store_mode_t;

#define BM_MAX_DIMS_NUM 8

typedef struct bm_shape_s {
  int num_dims;
  int dims[BM_MAX_DIMS_NUM];
} bm_shape_t;

/* 72 bytes on LP64. */
typedef struct bm_tensor_s {
  bm_data_type_t dtype;
  bm_shape_t shape;
  bm_device_mem_t device_mem;
  bm_store_mode_t st_mode;
} bm_tensor_t;

#if defined(__cplusplus)
}
#endif
#endif /* BMDEF_H_ */
