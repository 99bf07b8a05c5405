// Semantic checks per message type, run after decoding and before encoding, so both sides only
// ever hold messages that make sense (digests well formed, chunk index below the count, ...).
// Generic bounds (string lengths, list sizes, safe integers, finite floats) live in codec.ts.
import { bmfError } from '../errors.js';
import { isVariantName } from '../ids.js';
import { checkSketchMessage } from '../stats/sketch-message.js';
import { isCode, isDeviceId, isHexDigest, isName, isOpaqueId } from './ids.js';
import {
  MAX_BLOB_BYTES,
  MAX_CHUNK_BYTES,
  MAX_CHUNKS,
  MAX_REQUEST_INDICES,
  MAX_SKETCH_BINS,
} from './limits.js';
import { SCORE_HISTOGRAM_BINS } from './messages.js';
import type { VariantBundle, WireMessages } from './messages.js';
import type { WireMessageType } from './schema.js';

type Check = (ok: boolean, reason: string) => void;

function checker(type: WireMessageType): Check {
  return (ok, reason) => {
    if (!ok) throw bmfError('BMF_ERR_WIRE_DECODE', { type, reason });
  };
}

const CHIP = /^[a-z0-9]{1,32}$/;
const TIMING_MODES = new Set(['', 'host', 'modeled']);

function checkVariants(check: Check, field: string, list: VariantBundle[]): void {
  const seen = new Set<string>();
  for (const v of list) {
    check(isVariantName(v.variant), `${field}: bad variant name "${v.variant}"`);
    check(!seen.has(v.variant), `${field}: variant "${v.variant}" listed twice`);
    seen.add(v.variant);
    check(isHexDigest(v.bundleDigest), `${field}: bundle digest of "${v.variant}" is not 64 hex`);
  }
}

const optionalCode = (s: string): boolean => s === '' || isCode(s);

export const validators: { readonly [K in WireMessageType]: (m: WireMessages[K]) => void } = {
  DeviceHello(m) {
    const check = checker('DeviceHello');
    check(isDeviceId(m.deviceId), `bad device id "${m.deviceId}"`);
    check(CHIP.test(m.chip), `bad chip "${m.chip}"`);
    check(m.agentVersion.length > 0 && m.agentVersion.length <= 64, 'agent version length');
    for (const c of m.capabilities) check(isName(c), `bad capability "${c}"`);
  },
  DeviceState(m) {
    const check = checker('DeviceState');
    check(isDeviceId(m.deviceId), `bad device id "${m.deviceId}"`);
    checkVariants(check, 'active', m.active);
    checkVariants(check, 'lastKnownGood', m.lastKnownGood);
    check(optionalCode(m.lastErrorCode), `bad error code "${m.lastErrorCode}"`);
    check(m.bootId === undefined || isOpaqueId(m.bootId), 'bad boot id');
    check(
      (m.bootId === undefined) === (m.stateSeq === undefined),
      'boot id and sequence go together',
    );
  },
  Presence(m) {
    checker('Presence')(isDeviceId(m.deviceId), `bad device id "${m.deviceId}"`);
  },
  SignedAssignment(m) {
    checker('SignedAssignment')(m.envelope.length > 0, 'empty envelope');
  },
  BlobOffer(m) {
    const check = checker('BlobOffer');
    check(isHexDigest(m.digest), 'digest is not 64 lowercase hex');
    check(m.requestId === '' || isOpaqueId(m.requestId), 'bad request id');
    check(optionalCode(m.errorCode), `bad error code "${m.errorCode}"`);
    if (m.errorCode !== '') return;
    check(m.size <= MAX_BLOB_BYTES, `size ${m.size} exceeds ${MAX_BLOB_BYTES}`);
    check(m.chunkSize >= 1 && m.chunkSize <= MAX_CHUNK_BYTES, `chunk size ${m.chunkSize}`);
    const expected = Math.ceil(m.size / m.chunkSize);
    check(
      m.chunkSha256.length === expected,
      `${m.chunkSha256.length} chunk hashes, need ${expected}`,
    );
    for (const h of m.chunkSha256) check(h.length === 32, 'a chunk hash is not 32 bytes');
  },
  BlobChunkRequest(m) {
    const check = checker('BlobChunkRequest');
    check(isHexDigest(m.digest), 'digest is not 64 lowercase hex');
    check(isOpaqueId(m.requestId), 'bad request id');
    check(m.indices.length <= MAX_REQUEST_INDICES, `more than ${MAX_REQUEST_INDICES} indices`);
    check(m.indices.length > 0 || m.wantOffer, 'asks for nothing');
    for (const i of m.indices) check(i < MAX_CHUNKS, `chunk index ${i} >= ${MAX_CHUNKS}`);
  },
  BlobChunk(m) {
    const check = checker('BlobChunk');
    check(isHexDigest(m.digest), 'digest is not 64 lowercase hex');
    check(m.chunkCount >= 1 && m.chunkCount <= MAX_CHUNKS, `chunk count ${m.chunkCount}`);
    check(m.index < m.chunkCount, `chunk index ${m.index} >= count ${m.chunkCount}`);
    check(m.data.length >= 1 && m.data.length <= MAX_CHUNK_BYTES, `data of ${m.data.length} B`);
    check(m.requestId === '' || isOpaqueId(m.requestId), 'bad request id');
  },
  LatencySketch(m) {
    checker('LatencySketch')(m.binCounts.length <= MAX_SKETCH_BINS, 'too many bins');
    checkSketchMessage(m);
  },
  TelemetryReport(m) {
    const check = checker('TelemetryReport');
    check(isDeviceId(m.deviceId), `bad device id "${m.deviceId}"`);
    check(isVariantName(m.variant), `bad variant "${m.variant}"`);
    check(isHexDigest(m.bundleDigest), 'bundle digest is not 64 hex');
    check(m.intervalEndMs >= m.intervalStartMs, 'interval ends before it starts');
    check(TIMING_MODES.has(m.timingMode), `bad timing mode "${m.timingMode}"`);
    const c = m.counters;
    check(c.errors <= c.requests, 'more errors than requests');
    for (const code of Object.keys(c.errorsByCode)) check(isCode(code), `bad error code ${code}`);
    for (const [variant, f] of Object.entries(m.failedBeforeModel ?? {})) {
      check(isVariantName(variant), `bad variant "${variant}" of failed requests`);
      check(f.errors <= f.requests, 'more failed-before-model errors than requests');
      for (const code of Object.keys(f.errorsByCode)) check(isCode(code), `bad error code ${code}`);
    }
    for (const [stage, sketch] of Object.entries(m.latency)) {
      check(isName(stage), `bad stage name "${stage}"`);
      checkSketchMessage(sketch);
    }
    const a = m.accuracy;
    check(a.goldenCorrect <= a.goldenTotal, 'golden correct > total');
    check(a.feedbackCorrect <= a.feedbackTotal, 'feedback correct > total');
    const s = a.shadow;
    check(s.top1Agree <= s.pairs, 'shadow agreements > pairs');
    if (s.boxes) {
      const b = s.boxes;
      check(b.images <= s.pairs, 'shadow box images > pairs');
      check(b.numSq >= 0 && b.denSq >= 0 && b.numDen >= 0, 'shadow box sums of squares < 0');
    }
    if (a.detectionOutput) {
      const d = a.detectionOutput;
      check(d.images <= c.requests, 'detection images > requests');
      check(d.boxesSq >= d.boxes, 'detection boxes^2 < boxes');
      check(d.scoreHistogram.length === SCORE_HISTOGRAM_BINS, 'score histogram length');
      const binned = d.scoreHistogram.reduce((n, x) => n + x, 0);
      check(binned === d.boxes, 'score histogram does not sum to boxes');
    }
    // The labelled counts (both_correct .. both_wrong) are not bounded by this report's pairs:
    // a label is counted in the interval its feedback arrives, often after the pair's interval.
    for (const d of m.drift) {
      check(d.input.length > 0 && d.input.length <= 128, 'drift input name length');
      check(d.clippedLow + d.clippedHigh <= d.count, 'drift clipped > count');
      check(d.sumSq >= 0, 'drift sum of squares < 0');
    }
  },
  Event(m) {
    const check = checker('Event');
    check(isDeviceId(m.deviceId), `bad device id "${m.deviceId}"`);
    check(isCode(m.code), `bad event code "${m.code}"`);
    check(m.variant === '' || isVariantName(m.variant), `bad variant "${m.variant}"`);
    check(m.bundleDigest === '' || isHexDigest(m.bundleDigest), 'bundle digest is not 64 hex');
  },
  Command(m) {
    checker('Command')(isOpaqueId(m.id), `bad command id "${m.id}"`);
  },
  Ack(m) {
    const check = checker('Ack');
    check(isOpaqueId(m.commandId), `bad command id "${m.commandId}"`);
    check(isDeviceId(m.deviceId), `bad device id "${m.deviceId}"`);
    check(optionalCode(m.errorCode), `bad error code "${m.errorCode}"`);
  },
};
