// The packet scanner on byte streams cut every way: the verdict comes from the fixed header
// (and a PUBLISH topic), whatever the chunking, before the body is seen.
import t from 'tap';
import { createPacketScanner, type PacketHead } from '../../../controller/broker/packet-guard.js';
import { devicePublishLimit, limitFor } from '../../../controller/broker/limits.js';
import { WIRE_SIZE_LIMITS } from '../../../shared/wire/limits.js';
import { deviceTopic } from '../../../shared/wire/topics.js';
import { varint } from '../../../harness/controller/chaos.js';

function publishHeader(topic: string, bodyBytes: number): Uint8Array {
  const t = Buffer.from(topic);
  return Uint8Array.from([
    0x32,
    ...varint(2 + t.length + 2 + bodyBytes),
    t.length >> 8,
    t.length & 0xff,
    ...t,
  ]);
}

/** Feed `bytes` in chunks of `size`; returns the refusal and how many bytes were fed. */
function feed(limit: (h: PacketHead) => number, bytes: Uint8Array, size: number) {
  const s = createPacketScanner(limit);
  for (let i = 0; i < bytes.length; i += size) {
    const r = s.push(bytes.subarray(i, i + size));
    if (r) return { refusal: r, fed: Math.min(i + size, bytes.length) };
  }
  return { refusal: undefined, fed: bytes.length };
}

const telemetry = deviceTopic('telemetry', 'dev-1');
const device = limitFor({ kind: 'device', id: 'dev-1' });

t.test('a CONNECT declaring 100 MB is refused on its header, in any chunking', async (t) => {
  const header = Uint8Array.from([0x10, ...varint(100_000_000)]);
  for (const size of [1, 2, 3, 64 * 1024]) {
    const { refusal, fed } = feed(() => 8192, header, size);
    t.equal(refusal?.reason, 'oversize', `chunks of ${size}`);
    t.equal(refusal?.head.remaining, 100_000_000);
    t.ok(fed <= header.length, 'decided before any body byte');
  }
});

t.test('packets within the limit pass, several per chunk and split across chunks', async (t) => {
  const ping = [0xc0, 0x00];
  const small = [0x10, ...varint(10), ...new Array<number>(10).fill(0)];
  const stream = Uint8Array.from([...small, ...ping, ...ping, ...small, ...ping]);
  for (const size of [1, 5, stream.length]) {
    t.equal(feed(() => 10, stream, size).refusal, undefined, `chunks of ${size}`);
  }
  // The same stream with a limit of 9 stops at the first 10-byte packet.
  t.equal(feed(() => 9, stream, 1).refusal?.head.remaining, 10);
});

t.test('a device PUBLISH is held to the wire limit of its topic', async (t) => {
  const max = WIRE_SIZE_LIMITS.TelemetryReport;
  t.ok(devicePublishLimit(telemetry) > max, 'a report of the wire limit fits');
  const fits = publishHeader(telemetry, max);
  t.equal(feed(device, fits, 7).refusal, undefined, 'a report at the wire limit passes');
  const over = publishHeader(telemetry, devicePublishLimit(telemetry));
  const { refusal } = feed(device, over, 1);
  t.equal(refusal?.reason, 'oversize');
  t.equal(refusal?.head.topic, telemetry, 'the topic is known when the limit is applied');
  const presence = publishHeader(deviceTopic('presence', 'dev-1'), 4096);
  t.equal(feed(device, presence, 3).refusal?.reason, 'oversize', 'presence is 1 KiB at most');
  const foreign = publishHeader('bmf/v1/d/dev-1/assignment', 100 * 1024);
  t.equal(feed(device, foreign, 100).refusal?.reason, 'oversize', 'controller topics stay small');
});

t.test('malformed lengths and hostile topic lengths are refused', async (t) => {
  const five = Uint8Array.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]);
  t.equal(feed(() => Infinity, five, 1).refusal?.reason, 'malformed_length');
  const longTopic = Uint8Array.from([0x30, ...varint(70_000), 0xff, 0xff]);
  t.equal(feed(() => Infinity, longTopic, 1).refusal?.reason, 'topic_too_long');
});
