import t from 'tap';
import protobuf from 'protobufjs';
import {
  createWireSchema,
  WIRE_MESSAGE_TYPES,
  WIRE_PACKAGE,
  WIRE_PROTO,
} from '../../../shared/wire/schema.js';
import type { WireMessageType } from '../../../shared/wire/schema.js';
import { decodeMessage, encodeMessage } from '../../../shared/wire/codec.js';
import type { WireMessages } from '../../../shared/wire/messages.js';
import { WIRE_SIZE_LIMITS } from '../../../shared/wire/limits.js';
import { isBmfError } from '../../../shared/errors.js';
import { isDeviceId, isDigest, type DeviceId, type Digest } from '../../../shared/ids.js';
import { loadFixture, patched } from './fixtures.js';
import type { InvalidCase } from './fixtures.js';
import { codeOf } from '../../../harness/errors.js';

const schema = createWireSchema();
const ENUM_PREFIX: Record<string, string> = {
  runtime: 'RUNTIME_KIND_',
  status: 'DEVICE_STATUS_',
  severity: 'SEVERITY_',
  kind: 'COMMAND_KIND_',
};

/** Encode with protobufjs alone, skipping our checks, to feed bad values to the decoder. */
function rawEncode(type: WireMessageType, value: unknown): Uint8Array {
  const plain = { ...(value as Record<string, unknown>) };
  for (const [field, prefix] of Object.entries(ENUM_PREFIX)) {
    if (typeof plain[field] === 'string')
      plain[field] = prefix + String(plain[field]).toUpperCase();
  }
  const pbType = schema.type(type);
  return pbType.encode(pbType.fromObject(plain)).finish();
}

t.test('every message type round-trips its fixture', async (t) => {
  for (const type of WIRE_MESSAGE_TYPES) {
    const value = loadFixture(type) as WireMessages[typeof type];
    const bytes = encodeMessage(type, value);
    t.ok(bytes.length > 0 && bytes.length <= WIRE_SIZE_LIMITS[type], `${type} encodes in bounds`);
    const back = decodeMessage(type, bytes);
    t.same(back, value, `${type} decodes to the fixture`);
    t.same(encodeMessage(type, back), bytes, `${type} re-encodes to the same bytes`);
  }
});

t.test('decoded bytes are plain Uint8Array copies', async (t) => {
  const bytes = encodeMessage('BlobChunk', loadFixture('BlobChunk') as WireMessages['BlobChunk']);
  const chunk = decodeMessage('BlobChunk', bytes);
  t.equal(Object.getPrototypeOf(chunk.data), Uint8Array.prototype);
  t.not(chunk.data.buffer, bytes.buffer, 'does not alias the MQTT payload');
});

t.test('absent sub-messages and optional fields decode to defaults / undefined', async (t) => {
  const minimal = rawEncode('TelemetryReport', {
    deviceId: 'd1',
    variant: 'A',
    bundleDigest: 'ab'.repeat(32),
    runtime: 'bmrt',
  });
  const r = decodeMessage('TelemetryReport', minimal);
  t.equal(r.counters.requests, 0);
  t.equal(r.accuracy.shadow.pairs, 0);
  t.equal(r.device.temperatureC, undefined);
  t.notOk('temperatureC' in r.device, 'optional field absent');
  t.same(r.latency, {});
  t.equal(r.runtime, 'bmrt');
  // An agent from before detector telemetry sends neither: both stay absent.
  t.notOk('detectionOutput' in r.accuracy, 'no detection output');
  t.notOk('boxes' in r.accuracy.shadow, 'no shadow box agreement');
  t.same(r.failedBeforeModel, {}, 'an agent before failed-before-model counts sends none');
});

t.test('the earlier variant spelling (a/b) decodes as A/B; encoding writes A/B only', async (t) => {
  const report = loadFixture('TelemetryReport') as WireMessages['TelemetryReport'];
  const state = loadFixture('DeviceState') as WireMessages['DeviceState'];
  const event = loadFixture('Event') as WireMessages['Event'];
  const lower = <T extends { variant: string }>(v: T) => ({
    ...v,
    variant: v.variant.toLowerCase(),
  });
  const earlierState = {
    ...state,
    active: state.active.map(lower),
    lastKnownGood: state.lastKnownGood.map(lower),
  };
  const r = decodeMessage('TelemetryReport', rawEncode('TelemetryReport', lower(report)));
  t.equal(r.variant, report.variant.toUpperCase());
  const s = decodeMessage('DeviceState', rawEncode('DeviceState', earlierState));
  t.same(s.active, state.active);
  t.same(s.lastKnownGood, state.lastKnownGood);
  const e = decodeMessage('Event', rawEncode('Event', { ...event, variant: 'b' }));
  t.equal(e.variant, 'B');
  t.equal(
    codeOf(() => encodeMessage('TelemetryReport', lower(report) as never)),
    'BMF_ERR_WIRE_DECODE',
  );
  t.equal(
    codeOf(() => decodeMessage('Event', rawEncode('Event', { ...event, variant: 'c' }))),
    'BMF_ERR_WIRE_DECODE',
    'neither spelling: refused',
  );
});

t.test('the decoder hands out ids and digests branded DeviceId and Digest', async (t) => {
  const state = loadFixture('DeviceState') as WireMessages['DeviceState'];
  // An earlier agent's state (variants a/b) still decodes, into the branded types.
  const earlier = { ...state, active: state.active.map((v) => ({ ...v, variant: 'a' })) };
  const s = decodeMessage(
    'DeviceState',
    rawEncode('DeviceState', { ...earlier, active: [earlier.active[0]] }),
  );
  // Typed: these assignments compile only because the decoder's result carries the brands.
  const id: DeviceId = s.deviceId;
  const active: Digest | undefined = s.active[0]?.bundleDigest;
  t.ok(isDeviceId(id) && active !== undefined && isDigest(active), 'checked values');
  const e = decodeMessage(
    'Event',
    encodeMessage('Event', loadFixture('Event') as WireMessages['Event']),
  );
  const eventDigest: Digest | '' = e.bundleDigest;
  t.ok(eventDigest === '' || isDigest(eventDigest));
  const none = decodeMessage(
    'Event',
    rawEncode('Event', { ...(loadFixture('Event') as object), bundleDigest: '' }),
  );
  t.equal(none.bundleDigest, '', 'an event about no bundle keeps its empty digest');
});

t.test(
  'state order: an earlier agent sends none, a newer one both; one without the other is refused',
  async (t) => {
    const state = loadFixture('DeviceState') as WireMessages['DeviceState'];
    const { bootId, stateSeq, ...earlier } = state;
    // An earlier agent's report: neither field on the wire, and neither after decoding.
    const old = decodeMessage('DeviceState', rawEncode('DeviceState', earlier));
    t.notOk('bootId' in old, 'no boot id');
    t.notOk('stateSeq' in old, 'no sequence');
    t.same(old, earlier);
    t.same(decodeMessage('DeviceState', encodeMessage('DeviceState', earlier)), earlier);
    // A newer agent's report decodes for a controller of either age: the older one's schema lacks
    // fields 9 and 10 and skips them, as proto3 does with unknown fields.
    const bytes = encodeMessage('DeviceState', state);
    const back = decodeMessage('DeviceState', bytes);
    t.equal(back.bootId, bootId);
    t.equal(back.stateSeq, stateSeq);
    const earlierProto = WIRE_PROTO.replace(
      /\n\s*optional string boot_id = 9;\n\s*optional uint64 state_seq = 10;/,
      '',
    );
    t.not(earlierProto, WIRE_PROTO, 'the fields were taken out');
    const earlierType = protobuf
      .parse(earlierProto, { keepCase: false })
      .root.lookupType(`${WIRE_PACKAGE}.DeviceState`);
    const read = earlierType.toObject(earlierType.decode(bytes), { longs: Number });
    t.equal(read.deviceId, state.deviceId, 'an earlier controller reads the rest');
    t.equal(read.assignmentSequence, state.assignmentSequence);
    t.notOk('bootId' in read, 'and knows nothing of the order');
    for (const half of [
      { ...earlier, bootId },
      { ...earlier, stateSeq },
    ]) {
      t.equal(
        codeOf(() => encodeMessage('DeviceState', half)),
        'BMF_ERR_WIRE_DECODE',
      );
      t.equal(
        codeOf(() => decodeMessage('DeviceState', rawEncode('DeviceState', half))),
        'BMF_ERR_WIRE_DECODE',
        `decode with only ${Object.keys(half).filter((k) => k === 'bootId' || k === 'stateSeq')}`,
      );
    }
  },
);

const invalid = loadFixture('invalid') as InvalidCase[];
t.test('semantically invalid messages are refused on encode and on decode', async (t) => {
  for (const c of invalid) {
    const value = patched(c.type, c.set) as WireMessages[typeof c.type];
    t.equal(
      codeOf(() => encodeMessage(c.type, value)),
      c.code,
      `encode ${c.type}: ${c.why}`,
    );
    if (c.set.kind === 'format_disk') continue; // protobufjs cannot even encode an unknown name
    t.equal(
      codeOf(() => decodeMessage(c.type, rawEncode(c.type, value))),
      c.code,
      `decode ${c.type}: ${c.why}`,
    );
  }
});

t.test('size limits apply before decoding', async (t) => {
  const big = new Uint8Array(WIRE_SIZE_LIMITS.Event + 1); // zeros: would not even parse
  t.equal(
    codeOf(() => decodeMessage('Event', big)),
    'BMF_ERR_WIRE_TOO_LARGE',
    'over the type limit',
  );
  const ok = encodeMessage('Ack', loadFixture('Ack') as WireMessages['Ack']);
  t.equal(
    codeOf(() => decodeMessage('Ack', ok, { maxBytes: ok.length - 1 })),
    'BMF_ERR_WIRE_TOO_LARGE',
    'over an explicit maxBytes',
  );
  t.ok(decodeMessage('Ack', ok, { maxBytes: ok.length }), 'exactly at the limit decodes');
  const e = (() => {
    try {
      decodeMessage('Event', big);
    } catch (err) {
      return err as { details: Record<string, unknown> };
    }
  })();
  t.same(e?.details, { type: 'Event', size: big.length, limit: WIRE_SIZE_LIMITS.Event });
});

t.test('hostile bytes give BMF_ERR_WIRE_DECODE, never a crash', async (t) => {
  const good = encodeMessage(
    'DeviceState',
    loadFixture('DeviceState') as WireMessages['DeviceState'],
  );
  const cases: [string, Uint8Array][] = [
    ['truncated', good.subarray(0, good.length - 3)],
    ['length prefix beyond the end', Uint8Array.from([0x0a, 0xff, 0xff, 0x03, 0x41])],
    ['invalid wire type 7', Uint8Array.from([0x0f, 0x00])],
    ['unterminated varint', Uint8Array.from([0x20, 0xff, 0xff, 0xff])],
    ['unknown enum number', Uint8Array.from([0x0a, 0x02, 0x64, 0x31, 0x28, 0x63])],
    ['unspecified enum', Uint8Array.from([0x0a, 0x02, 0x64, 0x31])],
    [
      'uint64 above 2^53',
      Uint8Array.from([
        0x0a,
        0x02,
        0x64,
        0x31,
        0x28,
        0x03,
        0x38,
        ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
      ]),
    ],
  ];
  for (const [what, bytes] of cases) {
    t.equal(
      codeOf(() => decodeMessage('DeviceState', bytes)),
      'BMF_ERR_WIRE_DECODE',
      what,
    );
  }
  const nanSketch = rawEncode('LatencySketch', {
    ...(loadFixture('LatencySketch') as object),
    sum: NaN,
  });
  t.equal(
    codeOf(() => decodeMessage('LatencySketch', nanSketch)),
    'BMF_ERR_WIRE_DECODE',
    'NaN double',
  );
  // Random bytes: each either decodes to a valid message or throws a typed error.
  let seed = 12345;
  const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  let typed = 0;
  for (let i = 0; i < 500; i++) {
    const bytes = Uint8Array.from({ length: 1 + (i % 64) }, next);
    try {
      decodeMessage('TelemetryReport', bytes);
    } catch (e) {
      if (!isBmfError(e)) throw e;
      typed++;
    }
  }
  t.ok(typed > 450, `random payloads rejected with typed errors (${typed}/500)`);
});

t.test('oversized repeated fields are refused', async (t) => {
  const hello = loadFixture('DeviceHello') as WireMessages['DeviceHello'];
  const many = { ...hello, capabilities: Array.from({ length: 300 }, (_, i) => `c${i}`) };
  t.equal(
    codeOf(() => encodeMessage('DeviceHello', many)),
    'BMF_ERR_WIRE_DECODE',
    '300 caps',
  );
  t.equal(
    codeOf(() => decodeMessage('DeviceHello', rawEncode('DeviceHello', many))),
    'BMF_ERR_WIRE_DECODE',
    'decode 300 caps',
  );
});
