// Every message the controller did not take, counted: broker denials (CONNECT, publish and
// subscribe ACLs, packets over their size limit), messages the link dropped (malformed topic,
// failed decode, a handler that threw, held-queue overflow) and device events over their rate
// limit. Counted in memory and added to the persistent counters table once a second in one
// transaction (a flood of refusals must not cost one disk sync each), and exposed on /metrics as
// bmfleet_messages_refused_total{source, reason}, persisted plus not yet written, so the figures
// survive restarts.
import { Counter, Registry } from 'prom-client';
import { createSystemClock, runEvery, type Clock } from '../../shared/clock.js';
import type { CounterRepo } from '../store/counters.js';
import type { StoreMode } from '../store/repository.js';

export type RefusalSource = 'broker' | 'link' | 'events';

const PREFIX: Record<RefusalSource, string> = {
  broker: 'broker_denied_',
  link: 'dropped_',
  events: 'events_dropped_',
};

export function createRefusalCounter(opts: {
  readonly counters: CounterRepo<StoreMode>;
  /** 0 disables the timer (call flush()). */
  readonly flushIntervalMs?: number;
  readonly clock?: Pick<Clock, 'sleep'>;
  /** Labels on every series (the replica id). */
  readonly metricLabels?: Readonly<Record<string, string>>;
  /** A timed flush that failed (its counts are kept for the next one). */
  readonly onError: (e: unknown) => void;
}) {
  let unflushed = new Map<string, number>();
  async function flush(): Promise<void> {
    if (unflushed.size === 0) return;
    const entries = [...unflushed];
    unflushed = new Map();
    try {
      await opts.counters.addAll(entries);
    } catch (e) {
      for (const [name, n] of entries) unflushed.set(name, (unflushed.get(name) ?? 0) + n);
      throw e;
    }
  }
  const registry = new Registry();
  if (opts.metricLabels) registry.setDefaultLabels({ ...opts.metricLabels });
  new Counter({
    name: 'bmfleet_messages_refused_total',
    help: 'Messages refused or dropped: broker denials and oversize packets, link drops, rate-limited events',
    labelNames: ['source', 'reason'] as const,
    registers: [registry],
    async collect() {
      const stored = await opts.counters.all();
      this.reset();
      const totals = new Map(Object.entries(stored));
      for (const [name, n] of unflushed) totals.set(name, (totals.get(name) ?? 0) + n);
      for (const [name, n] of totals) {
        for (const [source, prefix] of Object.entries(PREFIX)) {
          if (name.startsWith(prefix)) this.inc({ source, reason: name.slice(prefix.length) }, n);
        }
      }
    },
  });
  const ms = opts.flushIntervalMs ?? 1000;
  const timer =
    ms > 0
      ? runEvery(opts.clock ?? createSystemClock(), ms, () => void flush().catch(opts.onError), {
          keepAlive: false,
          onError: opts.onError,
        })
      : undefined;
  return {
    count(source: RefusalSource, reason: string, n = 1): void {
      const name = `${PREFIX[source]}${reason}`;
      unflushed.set(name, (unflushed.get(name) ?? 0) + n);
    },
    flush,
    render: () => registry.metrics(),
    async close(): Promise<void> {
      timer?.cancel();
      await flush();
    },
  };
}
export type RefusalCounter = ReturnType<typeof createRefusalCounter>;
