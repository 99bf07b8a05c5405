// Colour -> grey as cv2.imread(path, IMREAD_GRAYSCALE) does it, which depends on the decoder:
// - PNG: OpenCV asks libpng (png_set_rgb_to_gray(png, 1, 0.299, 0.587), grfmt_png.cpp); libpng
//   1.6 (pngrtran.c png_do_rgb_to_gray) keeps the weights in 15 bits (29900 * 32768 / 100000 =
//   9797, 19234, and 32768 minus both for blue) and leaves a grey pixel (R = G = B) as is. Without
//   a file gamma it truncates (9797 R + 19234 G + 3737 B) >> 15; with one (a gAMA chunk, or sRGB
//   declared by an sRGB chunk or a recognised sRGB ICC profile) it weights linear values:
//   from1[(9797 to1[R] + 19234 to1[G] + 3737 to1[B] + 16384) >> 15], to1 and from1 being libpng's
//   8-bit tables for 1/gamma and gamma (the screen gamma defaults to the file's inverse).
// - JPEG and everything else: OpenCV's cvtColor BGR2GRAY fixed point (4899, 9617, 1868 over 2^14,
//   rounded). libjpeg itself hands out the stored luma for colour JPEGs, which the decoded RGB no
//   longer holds exactly (docs/preprocess-fidelity.md gives the measured difference).
import { greyFromRgb } from './layout.js';
import type { PixelImage } from './opencv-resize.js';

/** cvtColor's fixed point, or libpng's with the file gamma (PNG_FP_1 = 100000) if it has one. */
export type GreyRule = { kind: 'cvtColor' } | { kind: 'libpng'; gamma: number | undefined };

/** png_reciprocal: 1/x in libpng's fixed point. */
const reciprocal = (x: number): number => Math.floor(1e10 / x + 0.5);

/** png_build_8bit_table with png_gamma_8bit_correct (floating-point build). */
function gammaTable(gamma: number): Uint8Array {
  const t = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    t[v] = v > 0 && v < 255 ? Math.floor(255 * Math.pow(v / 255, gamma * 0.00001) + 0.5) : v;
  }
  return t;
}

function libpngGrey(fileGamma: number | undefined): (r: number, g: number, b: number) => number {
  if (fileGamma === undefined) {
    return (r, g, b) => (r === g && r === b ? r : (9797 * r + 19234 * g + 3737 * b) >> 15);
  }
  const to1 = gammaTable(reciprocal(fileGamma));
  const from1 = gammaTable(reciprocal(reciprocal(fileGamma)));
  return (r, g, b) =>
    r === g && r === b
      ? r
      : (from1[
          (9797 * (to1[r] as number) +
            19234 * (to1[g] as number) +
            3737 * (to1[b] as number) +
            16384) >>
            15
        ] as number);
}

/** RGB (3 channels) -> grey (1 channel) by the rule of the decoder OpenCV would have used. */
export function toGrey(src: PixelImage, rule: GreyRule): PixelImage {
  const n = src.width * src.height;
  const out = new Uint8Array(n);
  const d = src.data;
  const f = rule.kind === 'libpng' ? libpngGrey(rule.gamma) : greyFromRgb;
  for (let i = 0, s = 0; i < n; i++, s += 3) {
    out[i] = f(d[s] as number, d[s + 1] as number, d[s + 2] as number);
  }
  return { data: out, width: src.width, height: src.height, channels: 1 };
}
