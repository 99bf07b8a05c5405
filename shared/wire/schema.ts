// The protobuf schema of everything that crosses MQTT (issue 2, "Wire schema"). The .proto text
// is the contract; it is parsed once by protobufjs and the parsed root is never mutated.
//
// Rules for changing it (proto3 compatibility):
// - Field numbers are never renumbered or reused. A retired field moves into `reserved` (number
//   and name) in the same commit.
// - Numbers 1-15 (one-byte tags) are for fields present in nearly every message; 16-99 for the
//   rest; 100-199 are reserved in every message for a future version and must not be used.
// - Enum value 0 is always *_UNSPECIFIED and is rejected where a value is required.
// - Digests that name blobs or bundles are lowercase 64-hex sha256 strings (the same spelling as
//   the bundle manifest and the blob store); the per-chunk table carries raw 32-byte hashes.
import protobuf from 'protobufjs';

export const WIRE_PACKAGE = 'bmfleet.v1';

export const WIRE_PROTO = `
syntax = "proto3";
package bmfleet.v1;

enum RuntimeKind {
  RUNTIME_KIND_UNSPECIFIED = 0;
  RUNTIME_KIND_SIM = 1;   // simulator BMODELs on onnxruntime-node
  RUNTIME_KIND_BMRT = 2;  // libsophon bmrt on a real board
}

enum DeviceStatus {
  DEVICE_STATUS_UNSPECIFIED = 0;
  DEVICE_STATUS_IDLE = 1;      // no assignment yet
  DEVICE_STATUS_SYNCING = 2;   // fetching / verifying / staging
  DEVICE_STATUS_ACTIVE = 3;    // serving the assigned bundles
  DEVICE_STATUS_DEGRADED = 4;  // serving last-known-good after a failed gate or rollback
  DEVICE_STATUS_ERROR = 5;     // cannot serve; see last_error_code
}

enum Severity {
  SEVERITY_UNSPECIFIED = 0;
  SEVERITY_DEBUG = 1;
  SEVERITY_INFO = 2;
  SEVERITY_WARNING = 3;
  SEVERITY_ERROR = 4;
  SEVERITY_CRITICAL = 5;
}

enum CommandKind {
  COMMAND_KIND_UNSPECIFIED = 0;
  COMMAND_KIND_REFRESH = 1;       // re-publish state and re-read the assignment
  COMMAND_KIND_GOLDEN_RUN = 2;    // run the golden set of the active bundles now
  COMMAND_KIND_REBOOT_AGENT = 3;  // restart the agent process (not the board)
  COMMAND_KIND_REPORT_NOW = 4;    // flush telemetry without waiting for the interval
  COMMAND_KIND_GC_STORE = 5;      // delete blobs no bundle in use references
}

// device -> controller, retained, on every connect.
message DeviceHello {
  string device_id = 1;
  string chip = 2;             // bm1684 | bm1684x | bm1688 (docs/vendor.md section 1)
  string agent_version = 3;
  RuntimeKind runtime = 4;
  repeated string capabilities = 5;
  uint64 time_ms = 6;
  reserved 100 to 199;
}

// One bundle serving one variant: "A" or "B" (shared/ids.ts). Earlier agents wrote "a" / "b";
// the decoder reads those as "A" / "B" (shared/wire/variant-spelling.ts).
message VariantBundle {
  string variant = 1;
  string bundle_digest = 2;
  uint64 bundle_sequence = 3;
  reserved 100 to 199;
}

// device -> controller, retained; published after every change.
message DeviceState {
  string device_id = 1;
  repeated VariantBundle active = 2;
  repeated VariantBundle last_known_good = 3;
  uint64 assignment_sequence = 4;  // sequence of the installed signed assignment
  DeviceStatus status = 5;
  string last_error_code = 6;      // a BMF_ERR_* code, empty when none
  uint64 uptime_ms = 7;
  uint64 time_ms = 8;
  // The device's own order of its reports: a random id per agent start and a count that grows
  // with each report of that start, both set or neither. The controller stores a report only
  // when it is not older than the stored one (controller/store/devices.ts). Agents before these
  // send neither: their reports are stored as they arrive.
  optional string boot_id = 9;
  optional uint64 state_seq = 10;
  reserved 100 to 199;
}

// device -> controller, retained; the device's MQTT will message publishes online = false.
message Presence {
  string device_id = 1;
  bool online = 2;
  uint64 time_ms = 3;
  reserved 100 to 199;
}

// controller -> device, retained, per device. The envelope is the canonical JSON of the signed
// assignment (shared/trust); the wire never interprets it, the agent verifies it.
message SignedAssignment {
  bytes envelope = 1;
  reserved 100 to 199;
}

// controller -> device: the chunk table of one content-addressed blob.
message BlobOffer {
  string digest = 1;                // sha256 of the whole blob, 64 hex
  uint64 size = 2;
  uint32 chunk_size = 3;
  repeated bytes chunk_sha256 = 4;  // one raw 32-byte sha256 per chunk, in order
  string request_id = 5;            // echoes the request; empty when unsolicited
  string error_code = 6;            // non-empty: the controller cannot serve this blob
  reserved 100 to 199;
}

// device -> controller: send me these chunks (and/or the table).
message BlobChunkRequest {
  string request_id = 1;
  string digest = 2;
  repeated uint32 indices = 3;
  bool want_offer = 4;              // also send the BlobOffer (first contact or after restart)
  reserved 100 to 199;
}

// controller -> device (per device) or -> everyone (broadcast per digest).
message BlobChunk {
  string digest = 1;
  uint32 index = 2;
  bytes data = 3;
  uint32 chunk_count = 4;
  string request_id = 5;            // empty on the broadcast topic
  reserved 100 to 199;
}

// Mergeable DDSketch state (shared/stats/sketch.ts): logarithmic mapping gamma and index offset,
// then the contiguous positive-store bins starting at key bin_offset. Latencies are >= 0, so
// there is no negative store.
message LatencySketch {
  double gamma = 1;
  double index_offset = 2;
  sint32 bin_offset = 3;
  repeated uint64 bin_counts = 4;
  uint64 zero_count = 5;
  uint64 count = 6;
  double sum = 7;
  double min = 8;
  double max = 9;
  reserved 100 to 199;
}

message RequestCounters {
  uint64 requests = 1;
  uint64 errors = 2;
  map<string, uint64> errors_by_code = 3;  // BMF_ERR_* -> count
  uint64 shadow_requests = 4;               // B runs on a sample of A's requests
  reserved 100 to 199;
}

// Paired shadow results (A served, B shadowed on the same input), kept paired for McNemar.
message ShadowAgreement {
  uint64 pairs = 1;
  uint64 top1_agree = 2;
  double cosine_sum = 3;
  optional double cosine_min = 4;   // absent when pairs is 0 (agents before 0.2 sent 0)
  uint64 both_correct = 5;   // among pairs with a feedback label, counted when the label arrives
  uint64 a_only_correct = 6;
  uint64 b_only_correct = 7;
  uint64 both_wrong = 8;
  optional ShadowBoxAgreement boxes = 9;   // detectors: the two answers' boxes compared
  reserved 100 to 199;
}

// A detector's shadowed answers compared box by box: per image, B's boxes (best score first)
// take A's box of the same class with the highest IoU >= 0.5 (shared/detect/agreement.ts).
// Matched-box F1 = sum(2 matched) / sum(2 matched + a_only + b_only); the per-image sums of
// squares give its image-clustered variance, and everything merges by addition.
message ShadowBoxAgreement {
  uint64 images = 1;
  uint64 matched = 2;
  uint64 a_only = 3;        // A's boxes B did not match
  uint64 b_only = 4;        // B's boxes that matched none of A's
  double num_sq = 5;        // sum over images of (2 matched)^2
  double num_den = 6;       // sum over images of 2 matched * (2 matched + a_only + b_only)
  double den_sq = 7;        // sum over images of (2 matched + a_only + b_only)^2
  reserved 100 to 199;
}

// What a detector answered in the interval: every decoded request, feedback or not.
message DetectionOutput {
  uint64 images = 1;
  uint64 boxes = 2;
  double boxes_sq = 3;                  // sum over images of boxes^2 (per-image variance)
  repeated uint64 score_histogram = 4;  // boxes per score bin, SCORE_HISTOGRAM_BINS bins on [0, 1]
  reserved 100 to 199;
}

// A detector's answers scored by ground-truth boxes from feedback, matched at IoU 0.5.
message DetectionMatches {
  uint64 feedback = 1;       // requests with box feedback
  uint64 tp = 2;
  uint64 fp = 3;
  uint64 fn = 4;
  reserved 100 to 199;
}

message AccuracyCounters {
  uint64 golden_correct = 1;
  uint64 golden_total = 2;
  optional double golden_cosine_min = 3;  // absent without a golden cosine (older agents: 0)
  uint64 feedback_correct = 4;
  uint64 feedback_total = 5;
  ShadowAgreement shadow = 6;
  optional DetectionMatches detection = 7;   // only when box feedback arrived in the interval
  optional DetectionOutput detection_output = 8;  // only when a detector answered in the interval
  reserved 100 to 199;
}

// systeminformation figures; optional ones are absent when the platform does not expose them.
message DeviceStats {
  double cpu_percent = 1;
  uint64 mem_used_bytes = 2;
  uint64 mem_total_bytes = 3;
  optional double temperature_c = 4;
  uint64 disk_used_bytes = 5;
  uint64 disk_total_bytes = 6;
  uint64 agent_rss_bytes = 7;
  optional double tpu_percent = 8;
  optional uint64 tpu_mem_used_bytes = 9;
  optional uint64 tpu_mem_total_bytes = 10;
  optional double tpu_temperature_c = 11;
  reserved 100 to 199;
}

// Per input channel statistics of preprocessed live inputs (issue 6, field quantization
// health). Sums, not means, so reports merge by addition.
message DriftStats {
  string input = 1;
  uint32 channel = 2;
  uint64 count = 3;
  double sum = 4;
  double sum_sq = 5;
  double min = 6;
  double max = 7;
  uint64 clipped_low = 8;   // INT8 inputs: values clipped at -128 (or 0 for uint8)
  uint64 clipped_high = 9;  // INT8 inputs: values clipped at 127 (or 255)
  reserved 100 to 199;
}

// device -> controller, one per variant per interval.
message TelemetryReport {
  string device_id = 1;
  string variant = 2;                       // A | B, as in VariantBundle
  string bundle_digest = 3;
  uint64 interval_start_ms = 4;
  uint64 interval_end_ms = 5;
  uint64 report_sequence = 6;                // per device, for dedup after outbox replay
  RequestCounters counters = 7;
  map<string, LatencySketch> latency = 8;   // LatencyStage: e2e, preprocess, infer, postprocess
  AccuracyCounters accuracy = 9;
  DeviceStats device = 10;
  repeated DriftStats drift = 11;
  RuntimeKind runtime = 12;
  string timing_mode = 13;                  // host | modeled (simulator runtime)
  // Variant -> this device's requests that failed before any model answered them, since the
  // last report that carried this field (they have no bundle to be reported under). One report
  // carries them; controllers before this field ignore it.
  map<string, RequestCounters> failed_before_model = 14;
  reserved 100 to 199;
}

// device -> controller.
message Event {
  string device_id = 1;
  uint64 time_ms = 2;
  Severity severity = 3;
  string code = 4;            // BMF_ERR_* for failures, BMF_EVT_* for notable successes
  string message = 5;
  map<string, string> details = 6;
  string variant = 7;         // A | B, as in VariantBundle; empty for none
  string bundle_digest = 8;
  reserved 100 to 199;
}

// controller -> device.
message Command {
  string id = 1;
  CommandKind kind = 2;
  map<string, string> args = 3;
  uint64 issued_ms = 4;
  uint64 expires_ms = 5;      // 0 = no expiry
  reserved 100 to 199;
}

// device -> controller, answers one Command.
message Ack {
  string command_id = 1;
  bool ok = 2;
  string error_code = 3;
  string message = 4;
  string device_id = 5;
  uint64 time_ms = 6;
  reserved 100 to 199;
}
`;

/** Every top-level message a topic carries (LatencySketch is also used inside telemetry). */
export const WIRE_MESSAGE_TYPES = [
  'DeviceHello',
  'DeviceState',
  'Presence',
  'SignedAssignment',
  'BlobOffer',
  'BlobChunkRequest',
  'BlobChunk',
  'LatencySketch',
  'TelemetryReport',
  'Event',
  'Command',
  'Ack',
] as const;

export type WireMessageType = (typeof WIRE_MESSAGE_TYPES)[number];

export interface WireSchema {
  readonly root: protobuf.Root;
  type(name: WireMessageType): protobuf.Type;
}

/** Parse the schema. Call once per process part (codec caches one, tests may build more). */
export function createWireSchema(): WireSchema {
  const { root } = protobuf.parse(WIRE_PROTO, { keepCase: false });
  root.resolveAll();
  const types = new Map<WireMessageType, protobuf.Type>();
  for (const name of WIRE_MESSAGE_TYPES)
    types.set(name, root.lookupType(`${WIRE_PACKAGE}.${name}`));
  return Object.freeze({
    root,
    type(name: WireMessageType): protobuf.Type {
      const t = types.get(name);
      if (!t) throw new Error(`unknown wire message type ${String(name)}`);
      return t;
    },
  });
}
