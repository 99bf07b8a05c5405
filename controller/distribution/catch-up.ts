// The device-shadow catch-up rule (as balena-supervisor and AWS IoT device shadows do it): a
// device's own report says which assignment it has, so delivery does not depend on the broker
// keeping its session or a retained copy. When a reported sequence is below the one persisted
// for the device, the controller publishes that assignment to it again.
//
// Rate rule: at most one catch-up copy per device per `windowMs`. A fleet that reconnects at
// once (100k devices after a broker restart) costs one copy per device that is really behind and
// nothing for the others; a device that stays behind (installing, or its copy lost again) gets
// the next one on a report after the window (the agent reports state after every reconcile pass,
// at least every 30 s). The agent ignores a copy it already holds (agent/sync/assignment-order.ts).

export interface CatchUpFacts {
  /** The sequence the device reports (DeviceState.assignmentSequence). */
  readonly reported: number;
  /** The latest sequence persisted for it; undefined when it has none (or is not registered). */
  readonly persisted: number | undefined;
  /** When this controller last sent it a catch-up copy; undefined when never. */
  readonly lastSentAt: number | undefined;
  readonly now: number;
  readonly windowMs: number;
}

export type CatchUpDecision =
  | { readonly kind: 'republish' }
  | { readonly kind: 'none'; readonly why: 'no-assignment' | 'up-to-date' | 'rate-limited' };

export function decideCatchUp(f: CatchUpFacts): CatchUpDecision {
  if (f.persisted === undefined) return { kind: 'none', why: 'no-assignment' };
  if (f.reported >= f.persisted) return { kind: 'none', why: 'up-to-date' };
  if (f.lastSentAt !== undefined && f.now - f.lastSentAt < f.windowMs)
    return { kind: 'none', why: 'rate-limited' };
  return { kind: 'republish' };
}

/** Default window: a lost copy is sent again within a minute and a half of reports. */
export const CATCH_UP_WINDOW_MS = 60_000;

/**
 * When each device last got a catch-up copy. Entries older than the window decide nothing, so
 * they are swept once per window: the map holds at most the devices caught up in the last two.
 */
export function createCatchUpLedger(windowMs: number) {
  const sentAt = new Map<string, number>();
  let sweptAt = 0;
  return {
    lastSentAt(deviceId: string): number | undefined {
      return sentAt.get(deviceId);
    },
    sent(deviceId: string, now: number): void {
      if (now - sweptAt >= windowMs) {
        for (const [id, at] of sentAt) if (now - at >= windowMs) sentAt.delete(id);
        sweptAt = now;
      }
      sentAt.set(deviceId, now);
    },
    size: () => sentAt.size,
  };
}
