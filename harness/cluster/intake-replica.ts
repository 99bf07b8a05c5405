// One replica's device-message intake as a process of its own, so a test can kill -9 it: the
// JetStream link (controller/broker/jetstream-link.ts) with telemetry decoded at the edge
// (controller/telemetry/decode.ts) and its report key stored in PostgreSQL's telemetry_seen
// (pgTelemetry's writeBatch, ON CONFLICT DO NOTHING) before the link acknowledges. It stands
// in for a whole controller replica until the controller runs on PostgreSQL; what it checks is
// the part beneath: each report reaches one replica at least once and is stored once.
//
// argv[2]: JSON { servers, mqttUrl, storeUrl, name, ackWaitMs? }. Prints `ready` once consuming and
// `handled N` after each batch it stored (N: reports so far, duplicates included).
import { connectJetStreamLink } from '../../controller/broker/jetstream-link.js';
import { decodeTelemetry } from '../../controller/telemetry/decode.js';
import { reportKey } from '../../controller/telemetry/dedup.js';
import { openPostgresStore } from '../../controller/store/postgres/open.js';
import { pgTelemetry } from '../../controller/store/postgres/repos.js';

const o = JSON.parse(process.argv[2] ?? '{}') as {
  servers: string[];
  mqttUrl: string;
  storeUrl: string;
  name: string;
  ackWaitMs?: number;
};
const store = await openPostgresStore(o.storeUrl, { max: 4 });
const telemetry = pgTelemetry(store);
const link = await connectJetStreamLink({
  mqtt: {
    url: o.mqttUrl,
    username: 'bmfleet-controller',
    password: 'x',
    clientId: `bmfleet-controller-${o.name}`,
    protocolVersion: 4,
  },
  intake: { servers: o.servers, ...(o.ackWaitMs ? { ackWaitMs: o.ackWaitMs } : {}) },
  onDropped: (reason, err) => process.stderr.write(`dropped ${reason}: ${err.message}\n`),
});
// Group commit, as the controller's telemetry service does: the reports that arrive within
// 10 ms (at most 500) are written in one transaction, and each handler settles with it.
type Waiting = {
  deviceId: string;
  key: string;
  intervalStart: number;
  done: (e?: unknown) => void;
};
let queue: Waiting[] = [];
let timer: NodeJS.Timeout | undefined;
let handled = 0;
const flush = async () => {
  clearTimeout(timer);
  timer = undefined;
  const batch = queue;
  queue = [];
  try {
    await telemetry.writeBatch({
      minutes: [],
      seen: batch.map(({ deviceId, key, intervalStart }) => ({ deviceId, key, intervalStart })),
      counters: {},
    });
    for (const w of batch) w.done();
    handled += batch.length;
    process.stdout.write(`handled ${handled}\n`);
  } catch (e) {
    for (const w of batch) w.done(e);
  }
};
link.on('telemetry', (deviceId, payload) => {
  const d = decodeTelemetry(deviceId, payload, { oldestMs: 0, newestMs: Number.MAX_SAFE_INTEGER });
  if (!d.ok) throw new Error(d.message);
  return new Promise<void>((resolve, reject) => {
    queue.push({
      deviceId,
      key: reportKey(d.report),
      intervalStart: d.report.intervalStartMs,
      done: (e) => (e === undefined ? resolve() : reject(e)),
    });
    if (queue.length >= 500) void flush();
    else timer ??= setTimeout(() => void flush(), 10);
  });
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void link
    .close()
    .then(() => store.close())
    .then(() => process.exit(0));
});
