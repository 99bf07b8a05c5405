// Identifiers that cross from one part to another, as branded strings: a value of these types
// has passed its edge check once (shared/wire/ids.ts holds the rules), so later code does not
// check or re-spell it. `as Digest` belongs only where such a check has just been made.
declare const brand: unique symbol;

/** A bundle or blob digest: lowercase 64-hex sha256. */
export type Digest = string & { readonly [brand]: 'Digest' };

/** A device id: safe in MQTT topics and broker ACLs. */
export type DeviceId = string & { readonly [brand]: 'DeviceId' };
