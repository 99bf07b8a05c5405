// Which libsophon failures say "this model cannot run here" (the bundle is rejected for its
// assignment: trying the same bytes again fails the same way) and which say "the device cannot
// do it right now" (the step is retried with backoff). Pure; docs/libsophon.md "Error policy"
// is the table in prose. Status codes are bm_status_t (bmlib_runtime.h): 0 SUCCESS,
// 1 DEVNOTREADY, 2 FAILURE, 3 TIMEOUT, 4 PARAM, 5 NOMEM, 6 DATA, 7 BUSY, 8 NOFEATURE,
// 9 NOT_SUPPORTED; the bool and pointer calls report `false`.

export type LibsophonFailureKind = 'model' | 'device';

/** The bool calls whose `false` is libbmrt refusing the model's content or its tensors. */
const MODEL_CALLS = new Set([
  'bmrt_load_bmodel_data', // not a BMODEL, another chip, a version this libbmrt cannot read
  'bmrt_get_network_number', // loaded but holds no net
  'bmrt_get_network_info', // a net the BMODEL does not have
  'bmrt_launch_tensor', // wrong tensor count, shape or dtype for every stage of the net
  'bmrt_launch_tensor_ex',
]);

/** Statuses that describe the request, not the device's state. */
const MODEL_STATUSES = new Set([
  4 /* PARAM */, 6 /* DATA */, 8 /* NOFEATURE */, 9 /* NOT_SUPPORTED */,
]);

/** Calls about the device itself (opening it, its statistics, a runtime handle): never the model's. */
const DEVICE_CALLS = new Set([
  'bm_dev_getcount',
  'bm_dev_request',
  'bm_get_stat',
  'bmrt_create',
  'bmrt_destroy',
]);

export function libsophonFailureKind(call: string, status: number | 'false'): LibsophonFailureKind {
  if (DEVICE_CALLS.has(call)) return 'device';
  if (status === 'false') return MODEL_CALLS.has(call) ? 'model' : 'device';
  return MODEL_STATUSES.has(status) ? 'model' : 'device';
}
