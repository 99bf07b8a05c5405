// Wire Events wait in an on-disk outbox until the broker takes them, in order, so a device that
// is offline when a bundle is refused still reports it once it reconnects. Recording never throws:
// an event that cannot be written is logged and dropped (the device keeps serving).
import { bmfError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { decodeMessage, encodeMessage } from '../../shared/wire/codec.js';
import type { Event } from '../../shared/wire/messages.js';
import type { Outbox } from './outbox.js';

export interface EventOutboxDeps {
  readonly outbox: Outbox;
  readonly connected: () => boolean;
  readonly publish: (event: Event) => Promise<void>;
  readonly log: Pick<Logger, 'warn' | 'debug'>;
}

export interface EventOutbox {
  /** Records the event on disk, then tries to send everything queued. */
  emit(event: Event): Promise<void>;
  /** Sends what is queued while connected; stops at the first failure (kept for next time). */
  flush(): Promise<void>;
}

export function createEventOutbox(d: EventOutboxDeps): EventOutbox {
  async function flush(): Promise<void> {
    if (!d.connected()) return;
    await d.outbox
      .drain(async (bytes) => {
        await d.publish(decodeMessage('Event', bytes));
      })
      .catch((e: unknown) => d.log.debug(`events not sent yet: ${(e as Error).message}`));
  }
  return {
    async emit(event) {
      const dropped = d.outbox.dropped();
      try {
        await d.outbox.enqueue(encodeMessage('Event', event));
      } catch (e) {
        d.log.warn({ event: event.code }, `event not recorded: ${(e as Error).message}`);
        return;
      }
      if (d.outbox.dropped() > dropped) {
        const full = bmfError('BMF_ERR_AGENT_OUTBOX_FULL', {
          outbox: 'events',
          limit: d.outbox.limit,
        });
        d.log.warn({ code: full.code }, full.message);
      }
      void flush();
    },
    flush,
  };
}
