// Bounds on everything a peer can send. Checked at the edge (codec, topics) before any logic
// sees a value, so a hostile or buggy peer cannot make the other side allocate without limit.
import type { WireMessageType } from './schema.js';

/** Largest chunk a blob transfer may use (default transfers use 256 KiB, issue 4). */
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024;
/** Most chunks one blob may have: 16 Ki x 256 KiB = 4 GiB. */
export const MAX_CHUNKS = 16 * 1024;
/** Largest blob: MAX_CHUNKS chunks of MAX_CHUNK_BYTES. */
export const MAX_BLOB_BYTES = MAX_CHUNKS * MAX_CHUNK_BYTES;
/** Most chunk indices in one request (the agent keeps a few windows in flight). */
export const MAX_REQUEST_INDICES = 4096;
/** Most bins in one latency sketch (a 1 us .. 1 h range needs ~2,200 at 0.5 % accuracy). */
export const MAX_SKETCH_BINS = 8192;
/** Default bound on strings, except free-text message fields. */
export const MAX_STRING_CHARS = 1024;
export const MAX_MESSAGE_CHARS = 4096;
/** Default bound on repeated fields and map entries without their own limit. */
export const MAX_ITEMS = 256;

/** Encoded size limits per message type, enforced before decoding. */
export const WIRE_SIZE_LIMITS: Readonly<Record<WireMessageType, number>> = Object.freeze({
  DeviceHello: 4 * 1024,
  DeviceState: 16 * 1024,
  Presence: 1024,
  SignedAssignment: 64 * 1024,
  // 16 Ki chunk hashes of 34 bytes each, plus the header fields
  BlobOffer: 600 * 1024,
  BlobChunkRequest: 32 * 1024,
  BlobChunk: MAX_CHUNK_BYTES + 4 * 1024,
  LatencySketch: 96 * 1024,
  TelemetryReport: 512 * 1024,
  Event: 16 * 1024,
  Command: 8 * 1024,
  Ack: 8 * 1024,
});
