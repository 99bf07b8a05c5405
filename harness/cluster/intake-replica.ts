// One replica's device-message intake as a process of its own, so a test can kill -9 it: the
// JetStream link (controller/broker/jetstream-link.ts) with telemetry decoded at the edge
// (controller/telemetry/decode.ts) and its report key stored in PostgreSQL's telemetry_seen
// (pgTelemetry's writeBatch, ON CONFLICT DO NOTHING) before the link acknowledges. It stands
// in for a whole controller replica until the controller runs on PostgreSQL; what it checks is
// the part beneath: each report reaches one replica at least once and is stored once.
//
// argv[2]: JSON { servers, mqttUrl, storeUrl, name }. Prints `ready` once consuming and
// `handled N` after each report it stored or recognised.
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
  intake: { servers: o.servers, ackWaitMs: 2_000 },
  onDropped: (reason, err) => process.stderr.write(`dropped ${reason}: ${err.message}\n`),
});
let handled = 0;
link.on('telemetry', async (deviceId, payload) => {
  const d = decodeTelemetry(deviceId, payload, { oldestMs: 0, newestMs: Number.MAX_SAFE_INTEGER });
  if (!d.ok) throw new Error(d.message);
  await telemetry.writeBatch({
    minutes: [],
    seen: [{ deviceId, key: reportKey(d.report), intervalStart: d.report.intervalStartMs }],
    counters: {},
  });
  process.stdout.write(`handled ${++handled}\n`);
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void link
    .close()
    .then(() => store.close())
    .then(() => process.exit(0));
});
