// Ending an MQTT connection (mqtt.js) within a bound, whatever the broker's state. Both sides
// stop this way, so a service manager's SIGTERM is never held up by a broker that is gone.
//
// Why a bound is needed: mqtt.js `end(false)` waits for every unacknowledged QoS 1 publish to
// be acknowledged ('outgoingEmpty') after it has cancelled reconnecting, so with the broker gone
// it never finishes; and a second `end()` returns at once without forcing anything.
import type { MqttClient } from 'mqtt';

/** Resolves true when `p` settles within `ms`, false when the time ran out first. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface EndOptions {
  /** A last message to publish while still connected (presence offline), bounded too. */
  readonly last?: () => Promise<unknown>;
  /** Total time allowed; the default leaves room in a 5 s shutdown for everything else. */
  readonly ms?: number;
}

/**
 * Publishes `last` (when connected), then disconnects cleanly when nothing is left unacknowledged,
 * else drops the connection. Returns whether the clean path was taken.
 */
export async function endConnection(client: MqttClient, opts: EndOptions = {}): Promise<boolean> {
  const ms = opts.ms ?? 2000;
  const deadline = Date.now() + ms;
  const left = (): number => Math.max(0, deadline - Date.now());
  if (client.connected && opts.last) await settlesWithin(opts.last(), left() / 2);
  const clean = client.connected && Object.keys(client.outgoing).length === 0;
  if (await settlesWithin(client.endAsync(!clean), left())) return clean;
  // end() is already under way and a second end() would not force it: drop the socket.
  client.stream?.destroy();
  await settlesWithin(client.endAsync(true), 200);
  return false;
}
