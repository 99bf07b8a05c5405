// QoS 1 is at-least-once (MQTT 3.1.1 section 4.3.2): the broker may deliver a report twice, and
// the agent's outbox resends after a reconnect. A report is identified by its device, interval
// start, variant and bundle (one report per variant per interval); the last `perDevice` keys of
// each device are remembered, which covers any redelivery window that matters (hours of reports
// at the agent's interval) in bounded memory. The keys are stored with the rollups they were
// merged into (telemetry_seen, same transaction), and `load` reads them back the first time a
// device reports after a restart: a report stored just before a crash, whose acknowledgement
// the crash lost, is recognised when the device sends it again.
export interface ReportDedup {
  /** True the first time a key is seen for the device (and remembers it). */
  firstSeen(deviceId: string, key: string): boolean;
  forget(deviceId: string): void;
}

export function reportKey(r: {
  readonly intervalStartMs: number;
  readonly variant: string;
  readonly bundleDigest: string;
}): string {
  return `${r.intervalStartMs}/${r.variant}/${r.bundleDigest}`;
}

export function createReportDedup(
  perDevice = 1024,
  load: (deviceId: string, limit: number) => Iterable<string> = () => [],
): ReportDedup {
  // A Set iterates in insertion order, so the first element is the oldest key.
  const seen = new Map<string, Set<string>>();
  return {
    firstSeen(deviceId, key) {
      let keys = seen.get(deviceId);
      if (!keys) {
        keys = new Set(load(deviceId, perDevice));
        seen.set(deviceId, keys);
      }
      if (keys.has(key)) return false;
      keys.add(key);
      if (keys.size > perDevice) {
        const oldest = keys.values().next().value;
        if (oldest !== undefined) keys.delete(oldest);
      }
      return true;
    },
    forget(deviceId) {
      seen.delete(deviceId);
    },
  };
}
