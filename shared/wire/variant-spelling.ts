// Agents before the one variant spelling wrote 'a'/'b' on the wire (DeviceState, TelemetryReport,
// Event). Decoding reads them into 'A'/'B' (shared/ids.ts parseVariant), so nothing past the
// decoder ever holds the earlier form; encoding writes 'A'/'B' only (the validators refuse
// anything else). A value that is neither spelling is left as it came and refused there.
import { parseVariant } from '../ids.js';
import type { WireMessages } from './messages.js';
import type { WireMessageType } from './schema.js';

const read = <T extends string>(s: T): T => (parseVariant(s) ?? s) as T;

function readVariants(list: { variant: string }[]): void {
  for (const v of list) v.variant = read(v.variant);
}

/** In place, on a freshly decoded message (no one else holds it yet). */
export function readVariantSpelling<K extends WireMessageType>(
  typeName: K,
  message: WireMessages[K],
): void {
  const m = message as WireMessages[WireMessageType];
  switch (typeName) {
    case 'DeviceState': {
      const s = m as WireMessages['DeviceState'];
      readVariants(s.active);
      readVariants(s.lastKnownGood);
      return;
    }
    case 'TelemetryReport':
    case 'Event': {
      const r = m as WireMessages['TelemetryReport'] | WireMessages['Event'];
      if (r.variant !== '') r.variant = read(r.variant);
      return;
    }
  }
}
