// Identifier rules shared by topics and message validation.

/**
 * Device ids appear inside MQTT topics and broker ACLs, so they must not contain topic level
 * separators or wildcards ('/', '+', '#', MQTT 3.1.1 section 4.7) nor start with '$' (reserved
 * for broker topics, section 4.7.2). A safe ASCII charset keeps them printable in logs.
 */
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const HEX_DIGEST = /^[0-9a-f]{64}$/;
/** Variant and stage names: short lowercase words. */
const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Error and event codes: BMF_ERR_* and the like (a newer peer may send codes we do not know). */
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
/** Request and command ids: opaque, printable, bounded. */
const OPAQUE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export const isDeviceId = (s: string): boolean => DEVICE_ID.test(s);
export const isHexDigest = (s: string): boolean => HEX_DIGEST.test(s);
export const isName = (s: string): boolean => NAME.test(s);
export const isCode = (s: string): boolean => CODE.test(s);
export const isOpaqueId = (s: string): boolean => OPAQUE_ID.test(s);
