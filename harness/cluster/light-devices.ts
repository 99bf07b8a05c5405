// Light devices for the cluster tests: the simulator's wire-protocol devices
// (simulate/wire-devices/sim-device.ts: they fetch every blob of what they are assigned over
// MQTT, check each chunk against the offer, then report it active) in the test's process,
// spread over the NATS nodes, each with its home node first and the others to fail over to,
// a clean session on every connection as the agent's link (agent/sync/link.ts), and the state
// reported again every 30 s as the agent does after each reconcile pass (agent/agent.ts).
// Every assignment a device receives is recorded, redeliveries included, so a test can tell
// an assignment issued twice from one delivered twice. Closed in the test's teardown.
import type { Test } from 'tap';
import type { NatsCluster } from '../nats.js';
import { startSimDevice, type SimDevice } from '../../simulate/wire-devices/sim-device.js';

export interface ClusterDevice {
  readonly id: string;
  readonly device: SimDevice;
  /** The node it connected to first. */
  readonly home: number;
  /** Assignments received, in arrival order (a retained one again on every subscribe). */
  readonly received: { readonly sequence: number; readonly bundle: string; readonly at: number }[];
}

export interface ClusterDevicesOptions {
  readonly ids: readonly string[];
  readonly secrets: ReadonlyMap<string, string>;
  readonly nats: NatsCluster;
  /** The bundle's blob digests (the simulator asks the controller's API). */
  readonly bundleFiles: (digest: string) => Promise<readonly string[]>;
  /** Devices connecting at once: each QoS 1 subscription is a JetStream consumer NATS makes. */
  readonly batch?: number;
}

export async function startClusterDevices(
  t: Pick<Test, 'teardown'>,
  o: ClusterDevicesOptions,
): Promise<ClusterDevice[]> {
  const nodes = o.nats.nodes.map((n) => n.mqttUrl);
  const start = async (id: string, home: number): Promise<ClusterDevice> => {
    const log: ClusterDevice['received'] = [];
    // A device that did not get to report within its start timeout, or a connect that timed
    // out on a loaded machine: connect again, as `bmfleet simulate` does.
    for (let attempt = 1; ; attempt++) {
      try {
        const device = await startSimDevice({
          brokerUrl: nodes[home]!,
          failoverUrls: nodes.filter((_, j) => j !== home),
          id,
          secret: o.secrets.get(id)!,
          bundleFiles: o.bundleFiles,
          // As the agent: its state after every reconcile pass.
          stateEveryMs: 30_000,
          onAssignment: (_id, sequence, bundle) => log.push({ sequence, bundle, at: Date.now() }),
        });
        return { id, device, home, received: log };
      } catch (e) {
        if (attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    }
  };
  const devices: ClusterDevice[] = [];
  t.teardown(() => Promise.all(devices.map((d) => d.device.close().catch(() => undefined))));
  const batch = o.batch ?? 10;
  for (let i = 0; i < o.ids.length; i += batch) {
    devices.push(
      ...(await Promise.all(
        o.ids.slice(i, i + batch).map((id, k) => start(id, (i + k) % nodes.length)),
      )),
    );
  }
  return devices;
}

/** The node a device is connected to now (mqtt.js moves through its servers on reconnects). */
export function nodeOf(nats: NatsCluster, d: ClusterDevice): number | undefined {
  const { port } = d.device.client.options;
  if (!d.device.client.connected) return undefined;
  const i = nats.nodes.findIndex((n) => Number(new URL(n.mqttUrl).port) === port);
  return i < 0 ? undefined : i;
}
