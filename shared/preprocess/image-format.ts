// Which encoded images we accept, decided from the leading bytes before any decoder sees them:
// JPEG, PNG and WebP (what the vendor flows and cameras produce). Everything else libvips could
// open (GIF, TIFF, SVG, HEIF/AVIF, PDF, ...) is refused so the decoder surface stays small.
import { bmfError } from '../errors.js';

export type AcceptedFormat = 'jpeg' | 'png' | 'webp';

const ascii = (bytes: Uint8Array, at: number, len: number): string =>
  String.fromCharCode(...bytes.subarray(at, at + len));

/** Recognisable but refused formats, for a clear message. */
function refusedFormat(b: Uint8Array): string | undefined {
  const head = ascii(b, 0, 12);
  if (head.startsWith('GIF8')) return 'GIF';
  if (head.startsWith('II*\0') || head.startsWith('MM\0*')) return 'TIFF';
  if (head.startsWith('BM')) return 'BMP';
  if (head.startsWith('%PDF')) return 'PDF';
  if (ascii(b, 4, 4) === 'ftyp') return 'HEIF/AVIF';
  if (/^(\uFEFF|\xEF\xBB\xBF)?\s*<(\?xml|svg|!DOCTYPE)/i.test(ascii(b, 0, 64))) return 'SVG';
  return undefined;
}

export function sniffImageFormat(bytes: Uint8Array): AcceptedFormat {
  if (bytes.length === 0) throw bmfError('BMF_ERR_IMAGE_CORRUPT', { reason: 'empty input' });
  const b0 = bytes[0];
  if (b0 === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (ascii(bytes, 0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return 'webp';
  const refused = refusedFormat(bytes);
  const hex = Buffer.from(bytes.subarray(0, 8)).toString('hex');
  throw bmfError('BMF_ERR_IMAGE_UNSUPPORTED', {
    reason: refused
      ? `${refused} is not accepted (JPEG, PNG or WebP only)`
      : `unknown signature ${hex} (JPEG, PNG or WebP only)`,
  });
}
