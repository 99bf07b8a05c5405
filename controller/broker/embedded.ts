// The embedded MQTT broker (aedes) for fleets that fit one machine. It speaks MQTT 3.1.1 (aedes
// does not implement MQTT 5), so agents connect with protocol version 4 here and may use 5 with
// an external broker. Every denial is counted and logged, never thrown at the client's peers.
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { indexedMemoryPersistence } from './persistence.js';
import { createServer as createTcpServer, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { authenticate, mayPublish, maySubscribe, type AuthDeps, type Principal } from './acl.js';
import { bmfError } from '../../shared/errors.js';
import { deviceTopic, parseTopic, type Topic } from '../../shared/wire/topics.js';
import { limitFor, preAuthLimit } from './limits.js';
import { frameGuard, type GuardedConnection, type PacketRefusal } from './packet-guard.js';

export interface EmbeddedBrokerOptions extends AuthDeps {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly port: number; readonly certFile: string; readonly keyFile: string };
  readonly wsPort?: number;
  readonly onDenied?: (what: BrokerDenial, who: string, detail: string) => void;
  /**
   * A device's connection state changed: online while at least one authenticated connection
   * of the device is open (see `connected`).
   */
  readonly onPresence?: (deviceId: string, online: boolean) => void;
  /**
   * A client connected with the id of a client that is still connected; the broker closes the
   * older connection ([MQTT-3.1.4-2]). Two processes sharing an id take each other over in turn.
   */
  readonly onTakeover?: (clientId: string, who: string) => void;
  /**
   * Durable intake of device telemetry: called after the ACL allows a report and before aedes
   * acknowledges it (aedes writes the PUBACK of a QoS 1 PUBLISH before it hands the message to
   * subscribers, so a subscriber cannot hold the acknowledgement back). A rejection refuses the
   * packet (the connection closes, the device sends the report again).
   */
  readonly intakeTelemetry?: (deviceId: string, payload: Uint8Array) => Promise<unknown>;
  /**
   * Bundles are confidential per device: a device subscribes to a blob's broadcast chunks only
   * when the blob is part of its latest assignment (the rule per-device chunk requests and the
   * HTTP download follow). Absent: any device may (the topic ACL alone).
   */
  readonly mayReceiveBlob?: (deviceId: string, digest: string) => boolean | Promise<boolean>;
  /**
   * An error thrown while answering a client after an asynchronous decision (a throwing
   * onDenied, say). Absent: a process warning. Never an unhandled rejection, which would end
   * the controller.
   */
  readonly onError?: (e: unknown) => void;
}

/** What the broker refused: a CONNECT, an ACL decision, or a packet over its size limit. */
export type BrokerDenial = 'connect' | 'publish' | 'subscribe' | 'packet';

export interface EmbeddedBroker {
  readonly aedes: Aedes;
  readonly port: number;
  readonly tlsPort?: number;
  readonly wsPort?: number;
  /** Whether the device has an authenticated connection open now. */
  connected(deviceId: string): boolean;
  close(): Promise<void>;
}

const principals = new WeakMap<Client, Principal>();
const telemetryTopic = (id: string) => deviceTopic('telemetry', id);
function tryParseTopic(topic: string): Topic | undefined {
  try {
    return parseTopic(topic);
  } catch {
    return undefined;
  }
}
const guards = new WeakMap<object, GuardedConnection>();

function listen(server: Server | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const denied = opts.onDenied ?? (() => undefined);
  const failed =
    opts.onError ??
    ((e: unknown) =>
      process.emitWarning(`embedded broker: ${(e as Error).message ?? String(e)}`, 'BrokerError'));
  const live = new Map<string, Client>(); // client id -> the connected client
  const blobAllowed = async (p: Principal, filter: string): Promise<boolean> => {
    if (p.kind !== 'device' || !opts.mayReceiveBlob) return true;
    const t = tryParseTopic(filter);
    return t?.kind !== 'broadcastChunk' || (await opts.mayReceiveBlob(p.id, t.digest));
  };
  const aedes = await Aedes.createBroker({
    persistence: indexedMemoryPersistence(),
    authenticate(client, username, password, done) {
      authenticate({ clientId: client.id, username, password }, opts)
        .then(
          (p) => admit(p),
          // The store did not answer: refused as "server unavailable" (3), the device retries.
          () => {
            const err = new Error('server unavailable') as AuthenticateError;
            err.returnCode = 3;
            done(err, false);
          },
        )
        .catch(failed);
      function admit(p: Principal | undefined): void {
        if (!p) {
          // Answered first: a throwing onDenied must not leave the CONNECT unanswered.
          const err = new Error('not authorized') as AuthenticateError;
          err.returnCode = 5;
          done(err, false);
          denied('connect', client.id, `user ${username ?? '(anonymous)'}`);
          return;
        }
        principals.set(client, p);
        // From here on the principal's own limits apply (limits.ts).
        guards.get(client.conn)?.setLimit(limitFor(p));
        const prior = live.get(client.id);
        if (prior && prior !== client) {
          opts.onTakeover?.(client.id, p.kind === 'device' ? `device ${p.id}` : p.kind);
        }
        done(null, true);
      }
    },
    authorizePublish(client, packet, callback) {
      // Wills pass here too (aedes authorizes them when it publishes them), so a device cannot
      // leave a will on another device's presence topic.
      if (!client) return callback(null);
      const p = principals.get(client);
      if (!p || !mayPublish(p, packet.topic)) {
        denied('publish', client.id, packet.topic);
        return callback(new Error('publish not authorized'));
      }
      if (p.kind === 'device' && opts.intakeTelemetry && packet.topic === telemetryTopic(p.id)) {
        const bytes = packet.payload;
        const payload =
          typeof bytes === 'string'
            ? Buffer.from(bytes)
            : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        opts
          .intakeTelemetry(p.id, payload)
          .then(
            () => callback(null),
            (e: unknown) => callback(e instanceof Error ? e : new Error(String(e))),
          )
          .catch(failed);
        return;
      }
      callback(null);
    },
    authorizeSubscribe(client, sub, callback) {
      const p = principals.get(client);
      const decide = async () =>
        !!p && maySubscribe(p, sub.topic) && (await blobAllowed(p, sub.topic));
      decide()
        .catch(() => false)
        .then((ok) => {
          if (ok) return callback(null, sub);
          // A null subscription makes aedes answer SUBACK 0x80 (failure) for this filter;
          // answered first, so a throwing onDenied cannot leave the SUBSCRIBE unanswered.
          callback(null, null);
          denied('subscribe', client.id, sub.topic);
        })
        .catch(failed);
    },
  });
  // Presence follows the connections themselves. aedes' clientDisconnect is not enough: when a
  // device reconnects while its previous connection is still closing (after a denied publish,
  // say), the old client's unregister removes the new client from aedes' table and the new
  // client's own disconnect is then never emitted. So each device's open clients are counted
  // here, and a client leaves the count when its stream closes, whatever aedes reports.
  const open = new Map<string, Set<Client>>();
  const leave = (id: string, client: Client) => {
    const set = open.get(id);
    if (!set?.delete(client)) return;
    if (set.size === 0) {
      open.delete(id);
      opts.onPresence?.(id, false);
    }
  };
  aedes.on('clientReady', (client) => {
    live.set(client.id, client);
    const p = principals.get(client);
    if (p?.kind !== 'device') return;
    if (client.closed) return;
    const set = open.get(p.id) ?? new Set<Client>();
    const first = set.size === 0;
    set.add(client);
    open.set(p.id, set);
    (client.conn as Duplex).once('close', () => leave(p.id, client));
    if (first) opts.onPresence?.(p.id, true);
  });
  aedes.on('clientDisconnect', (client) => {
    if (live.get(client.id) === client) live.delete(client.id);
    const p = principals.get(client);
    if (p?.kind === 'device') leave(p.id, client);
  });

  const refused = (r: PacketRefusal) =>
    denied(
      'packet',
      '(connection)',
      bmfError('BMF_ERR_BROKER_PACKET_TOO_LARGE', {
        bytes: r.head.remaining,
        limit: r.limit,
        reason: `${r.reason}, packet type ${r.head.type}${r.head.topic ? ` on ${r.head.topic.slice(0, 256)}` : ''}`,
      }).message,
    );
  // Every connection is read through the packet guard; the pre-authentication limit applies
  // until authenticate() names the principal.
  const handle = (stream: Duplex, req?: unknown) => {
    const guarded = frameGuard(stream, preAuthLimit, refused);
    guards.set(guarded.conn, guarded);
    aedes.handle(guarded.conn, req as never);
  };

  const servers: (Server | HttpServer)[] = [];
  // Open sockets, so that close() can end those a client never closes (a half-open peer).
  const sockets = new Set<Duplex>();
  const track = (socket: Duplex): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const tcp = createTcpServer((socket) => handle(socket));
  tcp.on('connection', track);
  servers.push(tcp);
  const port = await listen(tcp, opts.port, opts.host);

  let tlsPort: number | undefined;
  if (opts.tls) {
    const tls = createTlsServer(
      { cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile) },
      (socket) => handle(socket),
    );
    tls.on('secureConnection', track);
    servers.push(tls);
    tlsPort = await listen(tls, opts.tls.port, opts.host);
  }

  let wsPort: number | undefined;
  let wss: WebSocketServer | undefined;
  if (opts.wsPort !== undefined) {
    const http = createHttpServer();
    wss = new WebSocketServer({ server: http });
    wss.on('connection', (socket, req) => handle(createWebSocketStream(socket), req));
    http.on('connection', track);
    servers.push(http);
    wsPort = await listen(http, opts.wsPort, opts.host);
  }

  return {
    aedes,
    port,
    ...(tlsPort !== undefined ? { tlsPort } : {}),
    ...(wsPort !== undefined ? { wsPort } : {}),
    connected: (id) => (open.get(id)?.size ?? 0) > 0,
    async close() {
      // Stop accepting first (devices reconnect as soon as they are dropped), then drop the
      // clients; a server's close() completes only once its last socket has ended.
      wss?.close();
      const closed = servers.map((s) => new Promise<void>((r) => s.close(() => r())));
      await new Promise<void>((r) => aedes.close(() => r()));
      for (const socket of sockets) socket.destroy();
      await Promise.all(closed);
    },
  };
}
