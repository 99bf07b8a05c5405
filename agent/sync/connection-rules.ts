// How a device's MQTT connection behaves, written once for the agent's link (agent/sync/link.ts)
// and the simulated devices (simulate/wire-devices/sim-device.ts), so a simulated reconnect
// storm is the agents' storm:
// - every reconnect waits a draw of linkRetryDelay (equal jitter, agent/sync/backoff.ts);
// - every connection subscribes (a clean session holds none), asks again after a refused SUBACK
//   with the same jitter, and gives the connection up when a SUBSCRIBE goes unanswered.
// The decision per SUBSCRIBE answer is pure (`nextSubscribeStep`); `applyConnectionRules` is the
// shell around an mqtt.js client.
import type { ISubscriptionMap, MqttClient } from 'mqtt';
import { linkBackoff, linkRetryDelay, type BackoffPolicy } from './backoff.js';

/** How the broker answered one SUBSCRIBE. */
export type SubscribeOutcome = 'granted' | 'refused' | 'unanswered';

/** What the connection does next; `first` is whether it was the connection's first SUBSCRIBE. */
export type SubscribeStep =
  | { readonly kind: 'subscribed'; readonly first: boolean }
  | { readonly kind: 'askAgain'; readonly first: boolean; readonly delayMs: number }
  | { readonly kind: 'reconnect' };

/**
 * After `tries` earlier refusals on this connection; `random` is drawn only for a pause (a
 * device's reconnect draws stay its own sequence). A SUBACK that refuses (NATS 2.9 answers
 * 0x80 when it cannot make a subscription's JetStream consumer within 4 s: a node just died, a
 * loaded cluster) is asked again after a jittered pause; one never answered (seen on NATS 2.9
 * after a failover, for minutes) ends the connection, which mqtt.js makes again.
 */
export function nextSubscribeStep(
  outcome: SubscribeOutcome,
  tries: number,
  policy: BackoffPolicy,
  random: () => number,
): SubscribeStep {
  const first = tries === 0;
  switch (outcome) {
    case 'granted':
      return { kind: 'subscribed', first };
    case 'refused':
      return { kind: 'askAgain', first, delayMs: linkRetryDelay(policy, tries, random()) };
    case 'unanswered':
      return { kind: 'reconnect' };
  }
}

export interface ConnectionRulesOptions {
  /** The first reconnect's (and SUBSCRIBE retry's) ceiling; doubles per attempt to 30 s. */
  readonly retryBaseMs: number;
  /** Uniform in [0, 1): the jitter; tests pass their own. */
  readonly random: () => number;
  /** What to subscribe on each connection (asked again on every try). */
  readonly subscriptions: () => ISubscriptionMap;
  /** A SUBSCRIBE unanswered this long ends the connection. */
  readonly subscribeTimeoutMs: number;
  /**
   * Each step once its SUBSCRIBE was answered (or not), on the connection still current; with
   * the refusal's error for `askAgain`. `subscribed` and the first `askAgain` are where a device
   * reports (its state while it asks again).
   */
  readonly onStep: (step: SubscribeStep, error?: Error) => void;
}

export interface ConnectionRules {
  /** No further SUBSCRIBE tries or step news (the client is being closed). */
  stop(): void;
}

const UNANSWERED = new Error('SUBSCRIBE unanswered');

/** Applies both rules to `client`; a client already connected subscribes at once. */
export function applyConnectionRules(
  client: MqttClient,
  o: ConnectionRulesOptions,
): ConnectionRules {
  const backoff = linkBackoff(o.retryBaseMs);
  // mqtt.js waits a fixed reconnectPeriod; it reads options.reconnectPeriod when it arms the
  // timer (after 'offline' on the first loss, on 'close' after each failed attempt), and emits
  // 'reconnect' before every attempt: each wait is drawn there.
  let reconnects = 0;
  const drawReconnectWait = () => {
    client.options.reconnectPeriod = linkRetryDelay(backoff, reconnects++, o.random());
  };
  client.on('offline', drawReconnectWait);
  client.on('reconnect', drawReconnectWait);

  let connection = 0;
  let stopped = false;
  const current = (mine: number) => !stopped && mine === connection && client.connected;

  const answer = async (): Promise<[SubscribeOutcome, Error?]> => {
    let timer: NodeJS.Timeout | undefined;
    const unanswered = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(UNANSWERED), o.subscribeTimeoutMs);
    });
    try {
      await Promise.race([client.subscribeAsync(o.subscriptions()), unanswered]);
      return ['granted'];
    } catch (e) {
      return e === UNANSWERED ? ['unanswered'] : ['refused', e as Error];
    } finally {
      clearTimeout(timer);
    }
  };

  const subscribeAll = async (mine: number) => {
    for (let tries = 0; current(mine); tries++) {
      const [outcome, error] = await answer();
      if (!current(mine)) return;
      const step = nextSubscribeStep(outcome, tries, backoff, o.random);
      o.onStep(step, error);
      if (step.kind === 'subscribed') return;
      if (step.kind === 'reconnect') {
        client.stream.destroy(); // mqtt.js reconnects as after any lost connection
        return;
      }
      await new Promise((r) => setTimeout(r, step.delayMs));
    }
  };

  const onConnect = () => {
    reconnects = 0;
    void subscribeAll(++connection);
  };
  client.on('connect', onConnect);
  if (client.connected) onConnect();
  return {
    stop() {
      stopped = true;
    },
  };
}
