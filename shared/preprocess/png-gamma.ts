// The file gamma libpng 1.6 assigns a PNG before its pixels (png.c, pngrutil.c), which decides how
// it converts colour to grey for cv2.imread(IMREAD_GRAYSCALE): a gAMA chunk gives its value
// (PNG_FP_1 = 100000); an sRGB chunk, or an iCCP profile libpng recognises as sRGB, gives 45455.
// libpng recognises a handful of published sRGB profiles by checksum (png_sRGB_checks); here a
// profile whose description names sRGB stands for that list. Chunks after IDAT are not read,
// as libpng has settled the colour space by then.
import { inflateSync } from 'node:zlib';

const SRGB_GAMMA = 45455;
const MAX_PROFILE = 1 << 20;

function profileIsSrgb(profile: Uint8Array): boolean {
  // The 'desc' tag: a tag table at 128 (count, then 12-byte entries: signature, offset, size).
  const view = new DataView(profile.buffer, profile.byteOffset, profile.byteLength);
  if (profile.length < 132) return false;
  const count = view.getUint32(128);
  for (let i = 0; i < count && 132 + 12 * (i + 1) <= profile.length; i++) {
    const at = 132 + 12 * i;
    if (view.getUint32(at) !== 0x64657363) continue; // 'desc'
    const off = view.getUint32(at + 4);
    const size = view.getUint32(at + 8);
    if (off + size > profile.length) return false;
    const text = Buffer.from(profile.subarray(off, off + size)).toString('latin1');
    return /sRGB/.test(text.replace(/\0/g, ''));
  }
  return false;
}

/** The file gamma libpng would use for this PNG, or undefined when it has none. */
export function pngFileGamma(png: Uint8Array): number | undefined {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let gamma: number | undefined;
  for (let at = 8; at + 8 <= png.length;) {
    const length = view.getUint32(at);
    const type = Buffer.from(png.subarray(at + 4, at + 8)).toString('latin1');
    const data = png.subarray(at + 8, Math.min(png.length, at + 8 + length));
    if (type === 'IDAT' || type === 'IEND') break;
    if (type === 'sRGB') return SRGB_GAMMA;
    if (type === 'gAMA' && data.length === 4) gamma = view.getUint32(at + 8);
    if (type === 'iCCP' && gamma === undefined) {
      const nul = data.indexOf(0);
      if (nul > 0 && nul + 2 <= data.length) {
        try {
          const profile = inflateSync(data.subarray(nul + 2), { maxOutputLength: MAX_PROFILE });
          if (profileIsSrgb(profile)) gamma = SRGB_GAMMA;
        } catch {
          // libpng ignores a profile it cannot read; so do we.
        }
      }
    }
    at += 12 + length;
  }
  return gamma;
}
