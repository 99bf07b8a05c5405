// What bcrypt passwords in the NATS users file cost (controller/broker/nats-users.ts): for each
// bcrypt cost, the CPU to write one user's hash (bcryptjs, this process) and the NATS server's
// CPU per MQTT connect that verifies it (a one-node nats-server, /proc utime + stime), against
// the clear password of earlier trees in the same run. CPU time, not wall time: the machine is
// shared.
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import type { Test } from 'tap';
import { natsAuthorizationConf, NATS_BCRYPT_COST } from '../controller/broker/nats-users.js';
import { natsSkip, startNatsCluster } from '../harness/nats.js';

const CONNECTS = 40;
const SECRET = 'kq3Jd0xPp8vYw2c5Hn6rT1uLz9sA4bE7fG0hI2jK3lM';
const DEVICE = 'bench-dev';

/** CPU seconds of a process so far (utime + stime from /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ 100)
}

async function connectCost(conf: string): Promise<number> {
  const downs: (() => unknown)[] = [];
  const t = { teardown: (f: () => unknown) => downs.push(f) } as unknown as Test;
  try {
    const node = (await startNatsCluster(t, 1, { include: conf })).nodes[0]!;
    const pid = node.pid()!;
    const connect = () =>
      mqtt.connectAsync(
        node.mqttUrl,
        {
          clientId: DEVICE,
          username: DEVICE,
          password: SECRET,
          protocolVersion: 4,
          clean: true,
          reconnectPeriod: 0,
          connectTimeout: 30_000,
        },
        false,
      );
    await (await connect()).endAsync(); // warm: the MQTT listener's streams exist
    const before = cpuSeconds(pid);
    for (let i = 0; i < CONNECTS; i++) await (await connect()).endAsync();
    return (cpuSeconds(pid) - before) / CONNECTS;
  } finally {
    for (const d of downs.reverse()) await d();
  }
}

function conf(cost: number | 'clear'): { text: string; hashCpuMs: number } {
  const c0 = process.cpuUsage();
  const text = natsAuthorizationConf({
    controller: { password: 'controller-secret' },
    devices: [{ id: DEVICE, secret: SECRET }],
    ...(cost === 'clear' ? {} : { cost }),
  });
  const used = process.cpuUsage(c0);
  if (cost !== 'clear') return { text, hashCpuMs: (used.user + used.system) / 2 / 1000 };
  // The clear file of earlier trees: the same users, passwords in clear.
  const clear = text.replace(/password: "\$2[^"]*"/g, '');
  const withSecrets = clear
    .replace(/(user: "bmfleet-controller", )/, `$1password: "controller-secret"`)
    .replace(new RegExp(`(user: "${DEVICE}", )`), `$1password: "${SECRET}"`);
  return { text: withSecrets, hashCpuMs: 0 };
}

export async function run(): Promise<void> {
  const skip = natsSkip();
  if (skip) {
    console.log(`nats-users bench skipped: ${skip}`);
    return;
  }
  const rows: [string, number, number][] = [];
  for (const cost of ['clear', 4, NATS_BCRYPT_COST, 8, 10] as const) {
    const c = conf(cost);
    const perConnect = await connectCost(c.text);
    rows.push([String(cost), c.hashCpuMs, perConnect * 1000]);
  }
  const clear = rows[0]![2];
  console.log(`nats-server CPU per MQTT connect (${CONNECTS} connects each), hash CPU per user`);
  console.log('cost   hash ms/user  connect ms CPU  ratio to clear');
  for (const [cost, hash, connect] of rows) {
    console.log(
      `${cost.padEnd(6)} ${hash.toFixed(2).padStart(12)}  ${connect.toFixed(2).padStart(14)}  ${(connect / clear).toFixed(2).padStart(14)}`,
    );
  }
  console.log(`written by --nats-users: cost ${NATS_BCRYPT_COST}`);
}
