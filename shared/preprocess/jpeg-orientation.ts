// The EXIF orientation of a JPEG (TIFF tag 0x0112 in IFD0 of the APP1 "Exif" segment), read
// before the pixels so the native decoder is used only for images that need no rotation; the
// others go through sharp, which rotates them as cv2.imread does. Bounds-checked; anything
// unreadable counts as "unknown" and takes the sharp path too.

/** 1 when the file carries no orientation (or says 1), the tag's value, or undefined if unsure. */
export function jpegOrientation(jpeg: Uint8Array): number | undefined {
  const view = new DataView(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength);
  let at = 2;
  while (at + 4 <= jpeg.length) {
    if (jpeg[at] !== 0xff) return undefined;
    const marker = jpeg[at + 1] as number;
    if (marker === 0xda || marker === 0xd9) return 1; // start of scan / end: no EXIF before
    const length = view.getUint16(at + 2);
    if (length < 2 || at + 2 + length > jpeg.length) return undefined;
    if (marker === 0xe1 && length >= 16) {
      const o = exifOrientation(view, at + 4, at + 2 + length);
      if (o !== 1) return o;
    }
    at += 2 + length;
  }
  return undefined;
}

function exifOrientation(view: DataView, start: number, end: number): number | undefined {
  const tag = String.fromCharCode(...new Uint8Array(view.buffer, view.byteOffset + start, 6));
  if (tag !== 'Exif\0\0') return 1; // another APP1 (XMP): no orientation here
  const tiff = start + 6;
  const order = view.getUint16(tiff);
  if (order !== 0x4949 && order !== 0x4d4d) return undefined;
  const le = order === 0x4949;
  if (tiff + 8 > end) return undefined;
  const ifd = tiff + view.getUint32(tiff + 4, le);
  if (ifd + 2 > end) return undefined;
  const count = view.getUint16(ifd, le);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + 12 * i;
    if (entry + 12 > end) return undefined;
    if (view.getUint16(entry, le) === 0x0112) {
      const v = view.getUint16(entry + 8, le);
      return v >= 1 && v <= 8 ? v : undefined;
    }
  }
  return 1;
}
