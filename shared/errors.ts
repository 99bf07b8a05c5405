// The one error catalogue of bmfleet. Every error that crosses a boundary (CLI exit, HTTP
// response, MQTT event) carries one of these stable codes. Codes are never renamed or reused;
// a retired code stays listed with `retired: true`. docs/errors.md documents every code and a
// test (test/shared/errors.test.ts) keeps the two in step.

export interface ErrorSpec {
  /** Message template; `{name}` is replaced with details.name. */
  readonly message: string;
  /** HTTP status when the error reaches the REST API or the agent's local API. */
  readonly status: number;
  readonly retired?: boolean;
}

export const errorCatalogue = {
  // --- generic / edges ---
  BMF_ERR_INTERNAL: { message: 'internal error: {reason}', status: 500 },
  BMF_ERR_CONFIG_INVALID: { message: 'invalid configuration at {field}: {reason}', status: 400 },
  BMF_ERR_CONFIG_UNREADABLE: {
    message: 'cannot read configuration file {path}: {reason}',
    status: 400,
  },
  BMF_ERR_USAGE: { message: 'bad command line: {reason}', status: 400 },
  BMF_ERR_IO: { message: 'I/O error on {path}: {reason}', status: 500 },
  BMF_ERR_ABORTED: { message: 'operation aborted: {reason}', status: 503 },
  /** Never thrown: time limits report BMF_ERR_ABORTED or the code of the part that waited. */
  BMF_ERR_TIMEOUT: { message: 'timed out after {ms} ms: {reason}', status: 504, retired: true },
  BMF_ERR_FILE_EXISTS: {
    message: '{path} already exists: pass --force to replace it, or choose another path',
    status: 409,
  },

  // --- BMODEL container (shared/bmodel) ---
  BMF_ERR_BMODEL_TRUNCATED: {
    message: 'BMODEL truncated at offset {offset}: {reason}',
    status: 400,
  },
  BMF_ERR_BMODEL_MAGIC: { message: 'not a BMODEL: bad magic {found} at offset 0', status: 400 },
  BMF_ERR_BMODEL_HEADER: {
    message: 'BMODEL header invalid at offset {offset}: {reason}',
    status: 400,
  },
  BMF_ERR_BMODEL_SIZE: { message: 'BMODEL size invalid at offset {offset}: {reason}', status: 400 },
  BMF_ERR_BMODEL_OFFSET: {
    message: 'BMODEL offset out of bounds at offset {offset}: {reason}',
    status: 400,
  },
  BMF_ERR_BMODEL_FLATBUFFER: {
    message: 'BMODEL flatbuffer invalid at offset {offset}: {reason}',
    status: 400,
  },
  BMF_ERR_BMODEL_LIMIT: {
    message: 'BMODEL exceeds a limit at offset {offset}: {reason}',
    status: 400,
  },
  BMF_ERR_BMODEL_UNSUPPORTED: { message: 'BMODEL not supported: {reason}', status: 400 },
  BMF_ERR_BMODEL_INVALID: { message: 'BMODEL description invalid: {reason}', status: 400 },

  // --- images and preprocessing (shared/preprocess) ---
  BMF_ERR_IMAGE_CORRUPT: { message: 'image cannot be decoded: {reason}', status: 400 },
  BMF_ERR_CONTENT_TYPE: { message: '{reason}; accepted: {accepted}', status: 415 },
  BMF_ERR_IMAGE_UNSUPPORTED: { message: 'image format not supported: {reason}', status: 415 },
  BMF_ERR_IMAGE_TOO_LARGE: { message: 'image too large: {reason}', status: 413 },
  BMF_ERR_IMAGE_SHAPE: { message: 'image does not match the model input: {reason}', status: 400 },
  BMF_ERR_PREPROCESS_SPEC: {
    message: 'preprocessing spec invalid at {field}: {reason}',
    status: 400,
  },
  BMF_ERR_TENSOR_SHAPE: { message: 'tensor shape invalid: {reason}', status: 400 },
  BMF_ERR_NPY_INVALID: {
    message: 'not a usable .npy file at offset {offset}: {reason}',
    status: 400,
  },
  BMF_ERR_TENSOR_MISMATCH: { message: 'tensors cannot be compared: {reason}', status: 400 },

  // --- detection decoding and metrics (shared/detect) ---
  BMF_ERR_DECODER_SPEC: { message: 'output decoder invalid at {field}: {reason}', status: 400 },
  BMF_ERR_DECODER_OUTPUTS: {
    message: 'decoder {decoder} does not fit the model outputs: {reason}',
    status: 400,
  },
  BMF_ERR_DETECTION_DATA: { message: 'detection data invalid at {field}: {reason}', status: 400 },
  BMF_ERR_GOLDEN_MAP_DROP: {
    message:
      "golden mAP@[0.5:0.95] {map} is more than {maxDrop} below the reference model's {reference}",
    status: 422,
  },

  // --- bundles and trust (shared/bundle, shared/trust) ---
  BMF_ERR_BUNDLE_MANIFEST: { message: 'bundle manifest invalid at {field}: {reason}', status: 400 },
  BMF_ERR_BUNDLE_FILE_MISSING: { message: 'bundle file missing: {path}', status: 400 },
  BMF_ERR_BUNDLE_NOT_REGULAR: {
    message: 'bundle path {path} is not a regular file ({kind})',
    status: 400,
  },
  BMF_ERR_TRUST_DOWNGRADE: {
    message:
      'bundle {what} sequence {sequence} is below the installed {installed} and the assignment does not allow a downgrade',
    status: 409,
  },
  BMF_ERR_TRUST_BAD_SIGNATURE: {
    message: 'signature does not verify for key {keyId}',
    status: 403,
  },
  BMF_ERR_TRUST_UNKNOWN_KEY: {
    message:
      'signature by key {keyId} is not trusted for role {role}: the root trusts {expected} for it',
    status: 403,
  },
  BMF_ERR_TRUST_THRESHOLD: {
    message: 'role {role} needs {threshold} valid signatures by {expected}, got {valid}',
    status: 403,
  },
  BMF_ERR_TRUST_EXPIRED: { message: '{what} expired at {expires}', status: 403 },
  BMF_ERR_TRUST_ROLLBACK: {
    message: '{what} sequence {sequence} is not above the installed {installed}',
    status: 409,
  },
  BMF_ERR_TRUST_HASH_MISMATCH: {
    message: 'hash mismatch for {path}: expected {expected}, got {actual}',
    status: 400,
  },
  BMF_ERR_TRUST_SIZE_MISMATCH: {
    message: 'size mismatch for {path}: declared {expected} bytes, {reason}',
    status: 400,
  },
  BMF_ERR_TRUST_CHIP_MISMATCH: {
    message: 'bundle targets {targets}, device chip is {chip}',
    status: 409,
  },
  BMF_ERR_TRUST_ROOT_ROTATION: {
    message: 'root rotation to version {version} not properly signed: {reason}',
    status: 403,
  },
  BMF_ERR_TRUST_ROOT_INVALID: { message: 'root document invalid: {reason}', status: 400 },
  BMF_ERR_TRUST_DOCUMENT_INVALID: {
    message: '{what} invalid at {field}: {reason}',
    status: 400,
  },
  BMF_ERR_TRUST_WRONG_DEVICE: {
    message: 'assignment is for device {target}, not {device}',
    status: 403,
  },
  BMF_ERR_KEYS_MISSING: {
    message: 'signing keys not found in {dir}: run bmfleet keys init',
    status: 500,
  },
  BMF_ERR_KEYS_EXIST: { message: 'signing keys already exist in {dir}', status: 409 },
  BMF_ERR_KEYS_INVALID: { message: 'signing key {path} is unusable: {reason}', status: 500 },

  // --- wire (shared/wire) ---
  BMF_ERR_WIRE_DECODE: { message: 'malformed {type} message: {reason}', status: 400 },
  BMF_ERR_WIRE_TOO_LARGE: {
    message: '{type} message of {size} bytes exceeds the limit {limit}',
    status: 413,
  },
  BMF_ERR_WIRE_TOPIC: { message: 'unknown or malformed topic {topic}', status: 400 },

  // --- statistics (shared/stats) ---
  BMF_ERR_STATS_SKETCH: { message: 'latency sketch invalid: {reason}', status: 400 },

  // --- compiler, quantizer, toolchains (controller/compile, controller/quantize) ---
  BMF_ERR_MODEL_NOT_ONNX: { message: '{path} is not an ONNX model: {reason}', status: 400 },
  BMF_ERR_MODEL_UNSUPPORTED: { message: 'model not supported: {reason}', status: 400 },
  BMF_ERR_MODEL_DYNAMIC_SHAPE: {
    message: 'input {input} has dynamic dimensions {shape}: pass --input-shapes',
    status: 400,
  },
  BMF_ERR_CHIP_UNKNOWN: { message: 'unknown chip {chip}: expected one of {known}', status: 400 },
  BMF_ERR_PRECISION_UNSUPPORTED: {
    message: 'precision {precision} not supported on {chip}',
    status: 400,
  },
  BMF_ERR_COMPILE_VALIDATION: {
    message: 'compiled model does not match the original: {reason}',
    status: 422,
  },
  BMF_ERR_TOOLCHAIN_MISSING: { message: 'toolchain {toolchain} not found: {reason}', status: 500 },
  BMF_ERR_TOOLCHAIN_FAILED: {
    message: '{toolchain} step {step} failed with exit code {exitCode}: {reason}',
    status: 500,
  },
  BMF_ERR_TOOLCHAIN_OUTPUT: { message: '{toolchain} did not produce {path}', status: 500 },
  BMF_ERR_TOOLCHAIN_VERSION: {
    message: '{toolchain} {version} cannot do this: {reason}',
    status: 400,
  },
  BMF_ERR_CALIBRATION_DATA: {
    message: 'calibration data unusable in {path}: {reason}',
    status: 400,
  },
  BMF_ERR_CALIBRATION_TABLE: {
    message: 'calibration table invalid at line {line}: {reason}',
    status: 400,
  },
  BMF_ERR_QUANTIZE_TABLE: {
    message: 'quantize table invalid at line {line}: {reason}',
    status: 400,
  },
  BMF_ERR_UMODEL_INVALID: { message: 'UMODEL invalid: {reason}', status: 400 },
  BMF_ERR_EVAL_DATA: { message: 'evaluation data unusable in {path}: {reason}', status: 400 },
  BMF_ERR_QUANTIZE_DEGRADED: {
    message: 'INT8 model below tolerance: {reason}',
    status: 422,
  },
  BMF_ERR_PYTHON_MISSING: {
    message: 'Python interpreter {python} not usable: {reason}',
    status: 500,
  },
  BMF_ERR_TORCH_MISSING: { message: 'PyTorch not importable by {python}: {reason}', status: 500 },
  BMF_ERR_NOT_TORCHSCRIPT: {
    message: '{path} is not a TorchScript model but {kind}',
    status: 400,
  },
  BMF_ERR_TORCHSCRIPT_SHAPES: {
    message: 'TorchScript model {path} needs --input-shapes: {reason}',
    status: 400,
  },
  BMF_ERR_TORCHSCRIPT_EXPORT: {
    message: 'TorchScript model {path} could not be run or exported to ONNX: {reason}',
    status: 422,
  },
  BMF_ERR_COMPILE_REPORT_INVALID: {
    message: 'compile report {path} cannot be packaged: {reason}',
    status: 400,
  },

  // --- runtime (agent/runtime) ---
  BMF_ERR_RUNTIME_UNAVAILABLE: { message: 'runtime {runtime} unavailable: {reason}', status: 503 },
  BMF_ERR_RUNTIME_LOAD: { message: 'cannot load model: {reason}', status: 500 },
  BMF_ERR_RUNTIME_INFER: { message: 'inference failed: {reason}', status: 500 },
  BMF_ERR_RUNTIME_SIM_ONLY: {
    message: 'simulator BMODEL cannot run on a device runtime: {reason}',
    status: 400,
  },
  BMF_ERR_LIBSOPHON: { message: 'libsophon call {call} failed with status {status}', status: 500 },
  BMF_ERR_LIBSOPHON_MISSING: { message: 'libsophon {what} not found: {reason}', status: 503 },
  BMF_ERR_LIBSOPHON_MODEL: {
    message: 'libsophon call {call} refused the model with status {status}',
    status: 422,
  },

  // --- cross-building the agent for boards (cross/) ---
  BMF_ERR_ELF_INVALID: { message: 'not a readable ELF file {path}: {reason}', status: 400 },
  BMF_ERR_CROSS_ARCH: {
    message: 'native file {path} is {found}, the board needs {expected}',
    status: 500,
  },
  BMF_ERR_CROSS_DEPENDENCY: { message: 'agent dependency {name}: {reason}', status: 500 },

  // --- agent ---
  BMF_ERR_AGENT_NOT_READY: { message: 'no model is active yet', status: 503 },
  BMF_ERR_AGENT_STORE: { message: 'agent store error: {reason}', status: 500 },
  BMF_ERR_AGENT_GATE_FAILED: { message: 'gate failed for {bundle}: {reason}', status: 422 },
  BMF_ERR_AGENT_HEALTH_REGRESSED: {
    message: 'bundle {bundle} failed its health window: {reason}',
    status: 422,
  },
  BMF_ERR_AGENT_FETCH: { message: 'fetch of blob {digest} failed: {reason}', status: 502 },
  BMF_ERR_AGENT_CHUNK_HASH: {
    message: 'chunk {index} of blob {digest} failed its hash check',
    status: 400,
  },
  BMF_ERR_AGENT_BLOB_TOO_LARGE: {
    message: 'blob {digest} of {size} bytes is above its bound of {limit} bytes',
    status: 413,
  },
  BMF_ERR_AGENT_BUSY: {
    message: 'too many request bodies in flight (limit {limit}): try again',
    status: 503,
  },
  BMF_ERR_AGENT_OUTBOX_FULL: {
    message: '{outbox} outbox full ({limit} entries): oldest dropped',
    status: 507,
  },
  BMF_ERR_INFER_REQUEST: { message: 'inference request invalid: {reason}', status: 400 },
  BMF_ERR_FEEDBACK_UNKNOWN_REQUEST: {
    message: 'no recent request with id {requestId}',
    status: 404,
  },

  // --- controller ---
  BMF_ERR_NOT_FOUND: { message: '{kind} {id} not found', status: 404 },
  BMF_ERR_DIGEST_PREFIX: {
    message: 'digest prefix {prefix} {reason}; candidates: {candidates}',
    status: 400,
  },
  BMF_ERR_CONFLICT: { message: '{kind} {id} conflicts: {reason}', status: 409 },
  BMF_ERR_BAD_REQUEST: { message: 'bad request: {reason}', status: 400 },
  BMF_ERR_BODY_TOO_LARGE: { message: 'request body too large: {reason}', status: 413 },
  BMF_ERR_UNAUTHORIZED: { message: 'missing or invalid operator token', status: 401 },
  BMF_ERR_FORBIDDEN: { message: 'not allowed: {reason}', status: 403 },
  BMF_ERR_SIGNIN_REFUSED: { message: 'sign-in refused: {reason}', status: 401 },
  BMF_ERR_CSRF: { message: 'CSRF check failed: {reason}', status: 403 },
  BMF_ERR_READ_ONLY: {
    message: 'read-only access: {action} needs an operator token',
    status: 403,
  },
  BMF_ERR_STORE: { message: 'controller store error: {reason}', status: 500 },
  BMF_ERR_STORE_URL: {
    message: 'store URL {url} is not usable: {reason}',
    status: 400,
  },
  BMF_ERR_LEASE_LOST: {
    message: 'lease {name} is no longer held by {holder} with token {token}',
    status: 409,
  },
  BMF_ERR_STORE_UNREACHABLE: {
    message: 'store {url} is unreachable: {reason}',
    status: 503,
  },
  BMF_ERR_NOT_LEASE_HOLDER: {
    message: 'replica {replica} does not hold lease {name}: {holder} does; retry there',
    status: 503,
  },
  BMF_ERR_BROKER: { message: 'broker error: {reason}', status: 502 },
  BMF_ERR_DEVICE_AUTH: { message: 'device {device} authentication failed', status: 401 },
  BMF_ERR_DEVICE_ACL: { message: 'device {device} may not {action} on {topic}', status: 403 },
  BMF_ERR_ROLLOUT_STATE: { message: 'rollout {id} is {state}: cannot {action}', status: 409 },
  BMF_ERR_ROLLOUT_EMPTY: { message: 'rollout target matches no devices', status: 400 },
  BMF_ERR_RANGE_NOT_SATISFIABLE: {
    message: 'range {range} not satisfiable for {size} bytes',
    status: 416,
  },
  BMF_ERR_DEVICE_ID_RESERVED: {
    message: 'device id {id} is reserved: {reason}',
    status: 409,
  },
  BMF_ERR_BROKER_PACKET_TOO_LARGE: {
    message: 'MQTT packet of {bytes} bytes over the limit of {limit}: {reason}',
    status: 413,
  },
  BMF_ERR_EVENT_RATE_LIMITED: {
    message: 'events of device {device} over {rate} per second (burst {burst}): dropped',
    status: 429,
  },

  // --- experiments (controller/experiment) ---
  BMF_ERR_EXPERIMENT_INCOMPATIBLE: { message: 'bundles cannot be compared: {reason}', status: 400 },
  BMF_ERR_EXPERIMENT_EMPTY: { message: 'experiment population matches no devices', status: 400 },
  BMF_ERR_EXPERIMENT_OVERLAP: {
    message: 'devices {devices} are already in experiment {other}',
    status: 409,
  },
  BMF_ERR_EXPERIMENT_UNDERPOWERED: { message: 'not enough data to promote: {reason}', status: 409 },
  BMF_ERR_EXPERIMENT_STATE: { message: 'experiment {id} is {state}: cannot {action}', status: 409 },
  BMF_ERR_EXPERIMENT_PLAN: { message: 'cannot size the experiment: {reason}', status: 400 },

  // --- NATS users for devices (controller/broker/nats-users.ts) ---
  BMF_ERR_NATS_USERS: { message: 'cannot write NATS users: {reason}', status: 400 },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorCatalogue;
export type ErrorDetails = Readonly<Record<string, string | number | boolean | undefined>>;

/**
 * The message: the code's template with details filled in, then two optional details any error
 * may carry: `lookedIn` (the file or directory the check read, e.g. the trust root) and `hint`
 * (what the user can do about it).
 */
function render(template: string, details: ErrorDetails): string {
  const text = template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = details[name];
    return v === undefined ? whole : String(v);
  });
  const lookedIn = details.lookedIn === undefined ? '' : ` (looked in ${details.lookedIn})`;
  const hint = details.hint === undefined ? '' : `; hint: ${details.hint}`;
  return `${text}${lookedIn}${hint}`;
}

export class BmfError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(render(errorCatalogue[code].message, details), options);
    this.name = 'BmfError';
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function bmfError(
  code: ErrorCode,
  details: ErrorDetails = {},
  options?: { cause?: unknown },
): BmfError {
  return new BmfError(code, details, options);
}

export function isBmfError(e: unknown, code?: ErrorCode): e is BmfError {
  return e instanceof BmfError && (code === undefined || e.code === code);
}

/**
 * Wrap anything thrown into a BmfError (used at the outermost edges only). A file system error
 * that names its path (a file given on the command line that is missing, unreadable or a
 * directory) is BMF_ERR_IO, not an internal error.
 */
export function toBmfError(e: unknown): BmfError {
  if (e instanceof BmfError) return e;
  const sys = e as { syscall?: unknown; path?: unknown };
  if (e instanceof Error && typeof sys.syscall === 'string' && typeof sys.path === 'string') {
    return new BmfError('BMF_ERR_IO', { path: sys.path, reason: e.message }, { cause: e });
  }
  const reason = e instanceof Error ? e.message : String(e);
  return new BmfError('BMF_ERR_INTERNAL', { reason }, { cause: e });
}

export function isErrorCode(s: string): s is ErrorCode {
  return Object.prototype.hasOwnProperty.call(errorCatalogue, s);
}
