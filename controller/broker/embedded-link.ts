// The controller's link to the broker it embeds, without a socket: it subscribes to the device
// topics on the aedes instance itself and publishes into it. A TCP client to the broker in the
// same process cost every device message a serialisation, a loopback write, a parse and (QoS 1)
// a PUBACK with its queue bookkeeping, and every 256 KiB chunk the controller sends a copy each
// way. Routing (handlers by topic kind, holding, drop counting) is the MQTT link's
// (createDeviceRouter); the ControllerLink contract is the same.
//
// What a persistent session gives the MQTT link (reports queued while the controller is down)
// has no counterpart here: the broker lives and dies with the controller. Device messages sent
// before a kind's handler exists are held, as on the MQTT link.
import type { Aedes, AedesPublishPacket } from 'aedes';
import type { BmfError } from '../../shared/errors.js';
import { bmfError } from '../../shared/errors.js';
import {
  controllerSubscriptions,
  TOPIC_PREFIX,
  TOPIC_SPECS,
  type DeviceTopicKind,
} from '../../shared/wire/topics.js';
import { createDeviceRouter, type ControllerLink } from './link.js';

type Deliver = (packet: AedesPublishPacket, done: () => void) => void;

export interface EmbeddedLinkOptions {
  /** No subscriptions: the controller's second link, for blob chunks. */
  readonly publishOnly?: boolean;
  readonly onDropped?: (reason: string, err: BmfError) => void;
  readonly holdLimit?: number;
  /** Kinds taken from the broker another way (telemetry: the broker's durable intake). */
  readonly exclude?: readonly DeviceTopicKind[];
}

export async function attachEmbeddedLink(
  aedes: Aedes,
  opts: EmbeddedLinkOptions = {},
): Promise<ControllerLink> {
  const router = createDeviceRouter(opts);
  const deliver: Deliver = (packet, done) => {
    const p = packet.payload;
    const bytes =
      typeof p === 'string' ? Buffer.from(p) : new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
    router.route(packet.topic, bytes);
    done();
  };
  const excluded = new Set(
    (opts.exclude ?? []).map((k) => `${TOPIC_PREFIX}/d/+/${TOPIC_SPECS[k].leaf}`),
  );
  const filters = opts.publishOnly ? [] : controllerSubscriptions().filter((f) => !excluded.has(f));
  for (const f of filters) {
    await new Promise<void>((resolve) => aedes.subscribe(f, deliver, () => resolve()));
  }
  let closed = false;
  return {
    on: router.on,
    publish(topic, payload, { qos, retain }) {
      if (closed) return Promise.reject(bmfError('BMF_ERR_BROKER', { reason: 'link closed' }));
      return new Promise<void>((resolve, reject) =>
        aedes.publish(
          {
            cmd: 'publish',
            topic,
            payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
            qos,
            retain: retain ?? false,
            dup: false,
          },
          (err) =>
            err
              ? reject(bmfError('BMF_ERR_BROKER', { reason: err.message }, { cause: err }))
              : resolve(),
        ),
      );
    },
    async close() {
      closed = true;
      for (const f of filters) {
        await new Promise<void>((resolve) => aedes.unsubscribe(f, deliver, () => resolve()));
      }
    },
  };
}
