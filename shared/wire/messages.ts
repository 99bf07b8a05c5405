// Typed views of the wire messages, hand-written to match shared/wire/schema.ts field for field
// (protobufjs camelCases the names). uint64 fields are JS numbers: the codec rejects values above
// Number.MAX_SAFE_INTEGER. Enums are the proto value names without their prefix, lower-cased
// (RUNTIME_KIND_SIM -> 'sim'); the UNSPECIFIED value never reaches typed code.
import type { DeviceId, Digest, VariantName } from '../ids.js';
import type { WireMessageType } from './schema.js';

export type RuntimeKind = 'sim' | 'bmrt';
export type DeviceStatus = 'idle' | 'syncing' | 'active' | 'degraded' | 'error';
export type Severity = 'debug' | 'info' | 'warning' | 'error' | 'critical';
export type CommandKind = 'refresh' | 'golden_run' | 'reboot_agent' | 'report_now' | 'gc_store';

export interface DeviceHello {
  deviceId: DeviceId;
  chip: string;
  agentVersion: string;
  runtime: RuntimeKind;
  capabilities: string[];
  timeMs: number;
}

export interface VariantBundle {
  variant: VariantName;
  bundleDigest: Digest;
  bundleSequence: number;
}

export interface DeviceState {
  deviceId: DeviceId;
  active: VariantBundle[];
  lastKnownGood: VariantBundle[];
  assignmentSequence: number;
  status: DeviceStatus;
  /** A BMF_ERR_* code, '' when none. */
  lastErrorCode: string;
  uptimeMs: number;
  timeMs: number;
  /** Random per agent start; absent from agents that do not order their reports. */
  bootId?: string;
  /** Grows by one with each report of one boot; set with bootId, absent without. */
  stateSeq?: number;
}

/** Where a state report stands in its device's own order (neither set: not ordered). */
export type StateOrder = Pick<DeviceState, 'bootId' | 'stateSeq'>;

export interface Presence {
  deviceId: DeviceId;
  online: boolean;
  timeMs: number;
}

export interface SignedAssignment {
  /** Canonical JSON bytes of the signed assignment envelope (shared/trust). */
  envelope: Uint8Array;
}

export interface BlobOffer {
  digest: Digest;
  size: number;
  chunkSize: number;
  /** Raw 32-byte sha256 of each chunk, in order. */
  chunkSha256: Uint8Array[];
  requestId: string;
  /** Non-empty when the controller cannot serve the blob; the other fields are then unset. */
  errorCode: string;
}

export interface BlobChunkRequest {
  requestId: string;
  digest: Digest;
  indices: number[];
  wantOffer: boolean;
}

export interface BlobChunk {
  digest: Digest;
  index: number;
  data: Uint8Array;
  chunkCount: number;
  /** '' on the broadcast topic. */
  requestId: string;
}

export interface LatencySketchMessage {
  gamma: number;
  indexOffset: number;
  binOffset: number;
  binCounts: number[];
  zeroCount: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

export interface RequestCounters {
  requests: number;
  errors: number;
  errorsByCode: Record<string, number>;
  shadowRequests: number;
}

export interface ShadowAgreement {
  pairs: number;
  top1Agree: number;
  cosineSum: number;
  /** Absent when there was no pair (agents before this field was optional sent 0). */
  cosineMin?: number;
  bothCorrect: number;
  aOnlyCorrect: number;
  bOnlyCorrect: number;
  bothWrong: number;
  /** Detectors: the shadow's boxes against the primary's (absent for classifiers). */
  boxes?: ShadowBoxAgreement;
}

/**
 * A detector's shadowed answers compared box by box (shared/detect/agreement.ts): matched-box
 * F1 = sum(2 matched) / sum(2 matched + aOnly + bOnly), with per-image sums of squares so its
 * image-clustered variance merges by addition.
 */
export interface ShadowBoxAgreement {
  images: number;
  matched: number;
  aOnly: number;
  bOnly: number;
  numSq: number;
  numDen: number;
  denSq: number;
}

/** Score bins of DetectionOutput.scoreHistogram: equal bins on [0, 1], the last one closed. */
export const SCORE_HISTOGRAM_BINS = 10;

/** What a detector answered in one interval: boxes per image and their scores. */
export interface DetectionOutput {
  images: number;
  boxes: number;
  /** Sum over images of boxes^2. */
  boxesSq: number;
  /** Boxes per score bin (SCORE_HISTOGRAM_BINS long). */
  scoreHistogram: number[];
}

/** A detector's answers scored by ground-truth boxes (IoU 0.5). */
export interface DetectionMatches {
  feedback: number;
  tp: number;
  fp: number;
  fn: number;
}

export interface AccuracyCounters {
  /** Golden samples answered correctly, of goldenTotal labelled ones (counts, as scored). */
  goldenCorrect: number;
  goldenTotal: number;
  /** Absent when no golden run compared outputs (agents before it was optional sent 0). */
  goldenCosineMin?: number;
  feedbackCorrect: number;
  feedbackTotal: number;
  shadow: ShadowAgreement;
  detection?: DetectionMatches;
  detectionOutput?: DetectionOutput;
}

export interface DeviceStats {
  cpuPercent: number;
  memUsedBytes: number;
  memTotalBytes: number;
  temperatureC?: number;
  diskUsedBytes: number;
  diskTotalBytes: number;
  agentRssBytes: number;
  tpuPercent?: number;
  tpuMemUsedBytes?: number;
  tpuMemTotalBytes?: number;
  tpuTemperatureC?: number;
}

export interface DriftStats {
  input: string;
  channel: number;
  count: number;
  sum: number;
  sumSq: number;
  min: number;
  max: number;
  clippedLow: number;
  clippedHigh: number;
}

/**
 * The latency stages of a served request, one name from the agent's telemetry to the experiment
 * report: `e2e` is the whole request (preprocess + infer + postprocess).
 */
export const LATENCY_STAGES = ['e2e', 'preprocess', 'infer', 'postprocess'] as const;
export type LatencyStage = (typeof LATENCY_STAGES)[number];

export interface TelemetryReport {
  deviceId: DeviceId;
  variant: VariantName;
  bundleDigest: Digest;
  intervalStartMs: number;
  intervalEndMs: number;
  reportSequence: number;
  counters: RequestCounters;
  /**
   * LatencyStage -> sketch of milliseconds. Typed by string because a newer agent may send a
   * stage this controller does not know; it is kept and shown, never refused.
   */
  latency: Record<string, LatencySketchMessage>;
  accuracy: AccuracyCounters;
  device: DeviceStats;
  drift: DriftStats[];
  runtime: RuntimeKind;
  /** 'host' | 'modeled' for the simulator runtime, '' otherwise. */
  timingMode: string;
  /**
   * Variant -> requests that failed before any model answered them (no bundle to report them
   * under), since the device's last report that carried them. Decoded reports always have it
   * ({} from agents before it); encoders may leave it out.
   */
  failedBeforeModel?: Record<string, RequestCounters>;
}

export interface Event {
  deviceId: DeviceId;
  timeMs: number;
  severity: Severity;
  code: string;
  message: string;
  details: Record<string, string>;
  /** '' when the event concerns no variant. */
  variant: VariantName | '';
  /** '' when the event concerns no bundle. */
  bundleDigest: Digest | '';
}

export interface Command {
  id: string;
  kind: CommandKind;
  args: Record<string, string>;
  issuedMs: number;
  /** 0 = no expiry. */
  expiresMs: number;
}

export interface Ack {
  commandId: string;
  ok: boolean;
  errorCode: string;
  message: string;
  deviceId: DeviceId;
  timeMs: number;
}

/** Message type name -> its TypeScript shape. */
export interface WireMessages {
  DeviceHello: DeviceHello;
  DeviceState: DeviceState;
  Presence: Presence;
  SignedAssignment: SignedAssignment;
  BlobOffer: BlobOffer;
  BlobChunkRequest: BlobChunkRequest;
  BlobChunk: BlobChunk;
  LatencySketch: LatencySketchMessage;
  TelemetryReport: TelemetryReport;
  Event: Event;
  Command: Command;
  Ack: Ack;
}

// Compile-time proof that the map above covers exactly the schema's message list.
type _Covers = WireMessageType extends keyof WireMessages
  ? keyof WireMessages extends WireMessageType
    ? true
    : never
  : never;
export const wireMessagesCoverSchema: _Covers = true;
