// Identifier rules shared by topics and message validation.

// Device ids and digests follow the one rule of shared/ids.ts.
import { isDeviceId, isDigest } from '../ids.js';

/** Stage and capability names: short lowercase words (variants: shared/ids.ts). */
const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Error and event codes: BMF_ERR_* and the like (a newer peer may send codes we do not know). */
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
/** Request and command ids: opaque, printable, bounded. */
const OPAQUE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export { isDeviceId };
export const isHexDigest = isDigest;
export const isName = (s: string): boolean => NAME.test(s);
export const isCode = (s: string): boolean => CODE.test(s);
export const isOpaqueId = (s: string): boolean => OPAQUE_ID.test(s);
