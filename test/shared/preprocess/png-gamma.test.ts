// The file gamma libpng would use (it decides cv2.imread's colour-to-grey rule for PNG).
import t from 'tap';
import { deflateSync } from 'node:zlib';
import { pngFileGamma } from '../../../shared/preprocess/png-gamma.js';

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  // The reader does not check CRCs (libpng has by the time pixels are decoded); zero will do.
  return Buffer.concat([head, data, Buffer.alloc(4)]);
}

/** A 1x1 RGB PNG with the given chunks between IHDR and IDAT. */
function png(...extra: Buffer[]): Buffer {
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
  return Buffer.concat([
    Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'),
    chunk('IHDR', ihdr),
    ...extra,
    chunk('IDAT', deflateSync(Buffer.from([0, 10, 20, 30]))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A minimal ICC profile: 128-byte header, one 'desc' tag holding `text`. */
function iccp(text: string): Buffer {
  const desc = Buffer.concat([
    Buffer.from('desc\0\0\0\0', 'latin1'),
    Buffer.alloc(4),
    Buffer.from(`${text}\0`, 'latin1'),
  ]);
  desc.writeUInt32BE(text.length + 1, 8);
  const table = Buffer.alloc(4 + 12);
  table.writeUInt32BE(1, 0);
  table.write('desc', 4, 'latin1');
  table.writeUInt32BE(128 + table.length, 8);
  table.writeUInt32BE(desc.length, 12);
  const profile = Buffer.concat([Buffer.alloc(128), table, desc]);
  profile.writeUInt32BE(profile.length, 0);
  return chunk('iCCP', Buffer.concat([Buffer.from('ICC\0\0', 'latin1'), deflateSync(profile)]));
}

const gama = (g: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(g, 0);
  return chunk('gAMA', b);
};

const cases: [string, Buffer, number | undefined][] = [
  ['no colour chunks', png(), undefined],
  ['gAMA 1/2.2', png(gama(45455)), 45455],
  ['gAMA 1.0', png(gama(100000)), 100000],
  ['sRGB chunk', png(chunk('sRGB', Buffer.from([0]))), 45455],
  ['sRGB ICC profile', png(iccp('sRGB IEC61966-2.1')), 45455],
  ['other ICC profile', png(iccp('Display P3')), undefined],
  [
    'unreadable ICC profile',
    png(chunk('iCCP', Buffer.from('ICC\0\0garbage', 'latin1'))),
    undefined,
  ],
];
for (const [name, bytes, want] of cases) {
  t.equal(pngFileGamma(bytes), want, name);
}
