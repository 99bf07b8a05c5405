/* bmruntime_interface.h of the libsophon emulator: the bmrt C API with the names, signatures and
 * struct layouts of sophgo/libsophon bmruntime/include/bmruntime_interface.h (see
 * docs/libsophon.md). bm_net_info_t carries the fields of recent releases; callers that must work
 * with every release read it field by field and never depend on its size. */
#ifndef BMRUNTIME_INTERFACE_H_
#define BMRUNTIME_INTERFACE_H_
#include <stdint.h>
#include "bmdef.h"

#if defined(__cplusplus)
extern "C" {
#endif

typedef struct {
  bm_shape_t *input_shapes;
  bm_shape_t *output_shapes;
  bm_device_mem_t *input_mems;
  bm_device_mem_t *output_mems;
} bm_stage_info_t;

typedef struct bm_net_info_s {
  const char *name;
  bool is_dynamic;
  int input_num;
  char const **input_names;
  bm_data_type_t *input_dtypes;
  float *input_scales;
  int output_num;
  char const **output_names;
  bm_data_type_t *output_dtypes;
  float *output_scales;
  int stage_num;
  bm_stage_info_t *stages;
  size_t *max_input_bytes;
  size_t *max_output_bytes;
  int *input_zero_point;
  int *output_zero_point;
  int *input_loc_devices;
  int *output_loc_devices;
  int core_num;
  int32_t addr_mode;
} bm_net_info_t;

uint64_t bmrt_shape_count(const bm_shape_t *shape);
bool bmrt_shape_is_same(const bm_shape_t *left, const bm_shape_t *right);
size_t bmrt_data_type_size(bm_data_type_t dtype);
size_t bmrt_tensor_bytesize(const bm_tensor_t *tensor);
size_t bmrt_tensor_device_size(const bm_tensor_t *tensor);
bool bmrt_tensor(bm_tensor_t *tensor, void *p_bmrt, bm_data_type_t dtype, bm_shape_t shape);
void bmrt_tensor_with_device(bm_tensor_t *tensor, bm_device_mem_t device_mem,
                             bm_data_type_t dtype, bm_shape_t shape);

void *bmrt_create(bm_handle_t bm_handle);
void bmrt_destroy(void *p_bmrt);
void *bmrt_get_bm_handle(void *p_bmrt);
bool bmrt_load_bmodel(void *p_bmrt, const char *bmodel_path);
bool bmrt_load_bmodel_data(void *p_bmrt, const void *bmodel_data, size_t size);
int bmrt_get_network_number(void *p_bmrt);
void bmrt_get_network_names(void *p_bmrt, const char ***network_names);
const bm_net_info_t *bmrt_get_network_info(void *p_bmrt, const char *net_name);
int bmrt_get_network_index(void *p_bmrt, const char *net_name);

bool bmrt_launch_tensor(void *p_bmrt, const char *net_name, const bm_tensor_t input_tensors[],
                        int input_num, bm_tensor_t output_tensors[], int output_num);
bool bmrt_launch_tensor_ex(void *p_bmrt, const char *net_name, const bm_tensor_t input_tensors[],
                           int input_num, bm_tensor_t output_tensors[], int output_num,
                           bool user_mem, bool user_stmode);
bool bmrt_launch_data(void *p_bmrt, const char *net_name, void *const input_datas[],
                      const bm_shape_t input_shapes[], int input_num, void *output_datas[],
                      bm_shape_t output_shapes[], int output_num, bool user_mem);

#if defined(__cplusplus)
}
#endif
#endif /* BMRUNTIME_INTERFACE_H_ */
