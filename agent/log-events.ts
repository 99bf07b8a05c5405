// The agent's log lines for broker and serve happenings (shared/log.ts): the wire events for the
// same happenings are made in agent/sync/events.ts.
import type { Logger } from '../shared/log.js';
import type { ServeEvent } from './serve/types.js';
import type { LinkEvent } from './sync/link.js';

/** One line per change of broker trouble, not one per reconnect attempt. */
export function brokerEventLogger(log: Logger, brokerUrl: string): (e: LinkEvent) => void {
  let brokerTrouble = '';
  return (e) => {
    if (e.kind === 'connected') {
      const again = brokerTrouble !== '';
      brokerTrouble = '';
      log.info(
        { broker: brokerUrl, sessionPresent: e.sessionPresent },
        again || e.reconnect ? 'reconnected to the broker' : 'connected to the broker',
      );
      return;
    }
    // A refused CONNACK repeats on every reconnect attempt: one line per change, not per second.
    const text = e.kind === 'refused' ? `broker refused the connection: ${e.reason}` : e.reason;
    const level = text === brokerTrouble ? 'debug' : 'warn';
    brokerTrouble = text;
    log[level](
      {
        broker: brokerUrl,
        code: 'BMF_ERR_BROKER',
        ...(e.kind === 'refused' && { reasonCode: e.reasonCode }),
      },
      text,
    );
  };
}

/** The log line of each serve event (the wire event is agent/sync/events.ts). */
export function logServeEvent(log: Logger, e: ServeEvent): void {
  switch (e.kind) {
    case 'activated':
      log.info({ variant: e.variant, bundle: e.bundleDigest }, 'bundle activated (swapped in)');
      return;
    case 'healthy':
      log.info({ variant: e.variant, bundle: e.bundleDigest }, 'bundle healthy (last known good)');
      return;
    case 'unloaded':
      log.info({ variant: e.variant, bundle: e.bundleDigest }, 'bundle unloaded');
      return;
    case 'gate-failed':
      log.warn(
        { variant: e.variant, bundle: e.bundleDigest },
        `bundle refused by the golden gate: ${e.reason}`,
      );
      return;
    case 'regressed':
      log.warn(
        { variant: e.variant, bundle: e.bundleDigest },
        `bundle failed its health window: ${e.reason}`,
      );
      return;
    case 'rolled-back':
      log.warn({ variant: e.variant, bundle: e.from, to: e.to }, `bundle rolled back: ${e.reason}`);
      return;
  }
}
