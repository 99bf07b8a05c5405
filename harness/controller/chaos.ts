// Fault injection with real processes: the controller as a child (`bmfleet controller`), killed
// with SIGKILL and started again on the same data dir and ports; devices that keep an outbox of
// unacknowledged telemetry reports and send it again after every reconnect, as the agent does;
// raw-socket floods; and the controller's memory read from /proc. Every run is seeded (the seed
// is printed, BMFLEET_CHAOS_SEED replays it).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import type { Test } from 'tap';
import { createKeystore } from '../../shared/trust/keystore.js';
import { deviceTopic } from '../../shared/wire/topics.js';
import { spawnForTest } from '../processes.js';
import { waitForValue } from '../wait.js';
import { freePort, tempDir } from './test-controller.js';
import { seededRandom } from '../../shared/stats/seeded-random.js';
import { encodeReport } from './telemetry-reports.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/** The run's seed (BMFLEET_CHAOS_SEED, else random), printed so a failure can be replayed. */
export function chaosSeed(log: (line: string) => void = (l) => console.log(l)) {
  const env = process.env.BMFLEET_CHAOS_SEED;
  const seed = env ? Number(env) >>> 0 : Math.floor(Math.random() * 2 ** 32);
  log(`# chaos seed ${seed} (replay with BMFLEET_CHAOS_SEED=${seed})`);
  return { seed, random: seededRandom(seed) };
}

export interface ControllerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<number | null>;
}

export interface ChaosController {
  readonly dataDir: string;
  readonly apiUrl: string;
  readonly brokerUrl: string;
  readonly brokerPort: number;
  readonly headers: Record<string, string>;
  current(): ControllerProcess;
  /** Start (again) on the same data dir and ports; resolves when it says it is ready. */
  start(): Promise<ControllerProcess>;
  kill9(): Promise<void>;
  /** SIGTERM and wait (a clean stop). */
  stop(): Promise<number | null>;
  enrol(id: string): Promise<string>;
}

/**
 * `config` is merged into the controller's config file. With `test`, every start is a child of
 * that test (harness/processes.ts: own process group, ended when the test ends, also on failure);
 * a benchmark passes none and stops the controller itself.
 */
export async function chaosController(
  opts: { config?: Record<string, unknown>; test?: Pick<Test, 'teardown'> } = {},
): Promise<ChaosController> {
  const dataDir = await tempDir('bmf-chaos-');
  await createKeystore(join(dataDir, 'keys')).init({ now: new Date() });
  const [apiPort, brokerPort] = [await freePort(), await freePort()];
  const configPath = join(dataDir, 'controller.json');
  await writeFile(
    configPath,
    JSON.stringify({
      dataDir,
      api: { port: apiPort },
      broker: { embedded: { port: brokerPort } },
      logLevel: 'warn',
      ...opts.config,
    }),
  );
  let proc: ControllerProcess | undefined;
  let headers: Record<string, string> = {};
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const self: ChaosController = {
    dataDir,
    apiUrl,
    brokerUrl: `mqtt://127.0.0.1:${brokerPort}`,
    brokerPort,
    get headers() {
      return headers;
    },
    current() {
      if (!proc) throw new Error('controller not started');
      return proc;
    },
    async start() {
      const args = ['--import', 'tsx', 'cli/entry.ts', 'controller', '--config', configPath];
      const options: SpawnOptions = { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] };
      const child = opts.test
        ? spawnForTest(opts.test, process.execPath, args, options)
        : spawn(process.execPath, args, options);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      let out = '';
      let err = '';
      child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('controller ready')) resolve();
        });
        void exited.then((code) => reject(new Error(`controller exited ${code}: ${err}`)));
      });
      proc = { child, pid: child.pid as number, exited };
      const token = (await readFile(join(dataDir, 'operator-token'), 'utf8')).trim();
      headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      return proc;
    },
    async kill9() {
      const p = self.current();
      p.child.kill('SIGKILL');
      await p.exited;
    },
    async stop() {
      const p = self.current();
      if (p.child.exitCode !== null || p.child.signalCode !== null) return p.child.exitCode;
      p.child.kill('SIGTERM');
      return p.exited;
    },
    async enrol(id) {
      const res = await fetch(`${apiUrl}/v1/devices`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ id, chip: 'bm1684x' }),
      });
      const body = (await res.json()) as { secret?: string };
      if (!body.secret) throw new Error(`enrol ${id}: ${res.status} ${JSON.stringify(body)}`);
      return body.secret;
    },
  };
  return self;
}

/** Resident and peak resident memory of a process, in bytes (Linux /proc/<pid>/status). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/** Reset the peak (VmHWM) to the current RSS (proc(5), clear_refs value 5). */
export async function resetPeak(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

/** MQTT remaining length (section 2.2.3). */
export function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/**
 * One raw connection sending `head`, then zeros up to `declared` bytes, until the peer closes it
 * or `deadlineMs` passes (then this side closes it). Resolves when the socket is closed.
 */
export function rawFlood(
  port: number,
  head: Uint8Array,
  declared: number,
  deadlineMs = 15_000,
): Promise<{ sent: number; closedEarly: boolean }> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    let sent = 0;
    let byPeer = true;
    const chunk = Buffer.alloc(256 * 1024);
    const giveUp = () => {
      byPeer = false;
      s.destroy();
    };
    const deadline = setTimeout(giveUp, deadlineMs);
    const pump = () => {
      while (sent < declared && !s.destroyed) {
        const n = Math.min(chunk.length, declared - sent);
        sent += n;
        if (!s.write(chunk.subarray(0, n))) return void s.once('drain', pump);
      }
      // Everything written and the peer still holds the connection open: it buffered it all.
      if (sent >= declared) setTimeout(giveUp, 1000);
    };
    s.on('connect', () => {
      s.write(head);
      pump();
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(deadline);
      resolve({ sent, closedEarly: byPeer && sent < declared });
    });
  });
}

/** A CONNECT fixed header declaring `bytes` of remaining length (no authentication follows). */
export const connectHeader = (bytes: number) => Uint8Array.from([0x10, ...varint(bytes)]);

/** A PUBLISH (QoS 1) header with its topic, declaring `bodyBytes` after the packet id. */
export function publishHeader(topic: string, bodyBytes: number): Uint8Array {
  const t = Buffer.from(topic);
  const remaining = 2 + t.length + 2 + bodyBytes;
  return Uint8Array.from([0x32, ...varint(remaining), t.length >> 8, t.length & 0xff, ...t, 0, 1]);
}

/** Sample a process's memory every `ms` while `work` runs; the highest RSS seen and VmHWM. */
export async function peakDuring<T>(
  pid: number,
  work: () => Promise<T>,
  ms = 20,
): Promise<{ result: T; base: number; peak: number }> {
  await resetPeak(pid);
  const base = memoryOf(pid).rss;
  let peak = base;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, memoryOf(pid).rss);
    } catch {
      // the process is gone; the caller sees it
    }
  }, ms);
  try {
    const result = await work();
    peak = Math.max(peak, memoryOf(pid).peak, memoryOf(pid).rss);
    return { result, base, peak };
  } finally {
    clearInterval(timer);
  }
}

export interface TelemetryDevice {
  readonly id: string;
  readonly client: MqttClient;
  /** Reports created (each counts `requests` inference requests). */
  readonly sent: { reports: number; requests: number };
  /** Reports the broker acknowledged (PUBACK). */
  readonly acked: { reports: number; requests: number };
  outboxSize(): number;
  /** Create and send one more report. */
  send(): void;
  close(): Promise<void>;
}

/**
 * A device that reports telemetry like the agent: each report stays in its outbox until the
 * broker acknowledges it, and the whole outbox is sent again after every reconnect.
 */
export async function telemetryDevice(
  brokerUrl: string,
  id: string,
  secret: string,
  random: () => number,
): Promise<TelemetryDevice> {
  const client = mqtt.connect(brokerUrl, {
    clientId: id,
    username: id,
    password: secret,
    protocolVersion: 4,
    reconnectPeriod: 100,
    connectTimeout: 5000,
  });
  client.on('error', () => undefined);
  await waitForValue(`${id} connected`, () => (client.connected ? true : undefined), 30_000);
  const topic = deviceTopic('telemetry', id);
  const outbox = new Map<number, { payload: Buffer; requests: number }>();
  const sent = { reports: 0, requests: 0 };
  const acked = { reports: 0, requests: 0 };
  const base = Date.now() - 3_600_000;
  const publish = (n: number) => {
    const entry = outbox.get(n);
    if (!entry || !client.connected) return;
    client.publish(topic, entry.payload, { qos: 1 }, (err) => {
      if (err || !outbox.has(n)) return;
      outbox.delete(n);
      acked.reports++;
      acked.requests += entry.requests;
    });
  };
  client.on('connect', () => {
    for (const n of outbox.keys()) publish(n);
  });
  return {
    id,
    client,
    sent,
    acked,
    outboxSize: () => outbox.size,
    send() {
      const n = sent.reports;
      const requests = 1 + Math.floor(random() * 50);
      const payload = Buffer.from(
        encodeReport({ deviceId: id, intervalStartMs: base + n * 10, requests, reportSequence: n }),
      );
      outbox.set(n, { payload, requests });
      sent.reports++;
      sent.requests += requests;
      publish(n);
    },
    close: () => client.endAsync(true),
  };
}

/** Inference requests stored in the controller's database, per device (read after it stops). */
export function storedRequests(dataDir: string): Map<string, number> {
  const db = new Database(join(dataDir, 'controller.db'), { readonly: true });
  try {
    const rows = db
      .prepare('SELECT device_id, SUM(requests) AS n FROM telemetry_minute GROUP BY device_id')
      .all() as { device_id: string; n: number }[];
    return new Map(rows.map((r) => [r.device_id, r.n]));
  } finally {
    db.close();
  }
}

export interface KillTrialsResult {
  readonly kills: number;
  readonly sent: { reports: number; requests: number };
  readonly stored: { requests: number };
  /** Acknowledged before a kill but never stored: must be 0. */
  readonly lost: number;
  /** Stored more than once: must be 0. */
  readonly doubled: number;
}

/**
 * Devices report without pause while the controller is killed with SIGKILL `kills` times at
 * seeded random moments (50-800 ms into each run) and started again; then the devices drain
 * their outboxes, the controller stops cleanly, and what was sent is compared with what is
 * stored. Ends every process it starts, also on failure.
 */
export async function controllerKillTrials(opts: {
  readonly kills: number;
  readonly devices: number;
  readonly random: () => number;
  readonly log?: (line: string) => void;
  /**
   * 'kill': SIGKILL and restart at once. 'outage': the broker (embedded, so the controller)
   * stops cleanly and stays away 0.3-1.5 s while the devices go on reporting into their outboxes.
   */
  readonly mode?: 'kill' | 'outage';
}): Promise<KillTrialsResult> {
  const log = opts.log ?? (() => undefined);
  const ctl = await chaosController();
  const devices: TelemetryDevice[] = [];
  let sending: NodeJS.Timeout | undefined;
  try {
    await ctl.start();
    for (let i = 0; i < opts.devices; i++) {
      const id = `chaos-${i}`;
      devices.push(await telemetryDevice(ctl.brokerUrl, id, await ctl.enrol(id), opts.random));
    }
    // Each device keeps a window of reports in flight, as a busy agent's outbox does.
    sending = setInterval(() => {
      for (const d of devices) if (d.outboxSize() < 64) for (let k = 0; k < 8; k++) d.send();
    }, 5);
    for (let k = 0; k < opts.kills; k++) {
      const delay = 50 + Math.floor(opts.random() * 750);
      const before = devices.reduce((n, d) => n + d.acked.reports, 0);
      await waitForValue(
        'reports acknowledged',
        () => (devices.reduce((n, d) => n + d.acked.reports, 0) > before ? true : undefined),
        60_000,
      );
      await new Promise((r) => setTimeout(r, delay));
      if (opts.mode === 'outage') {
        await ctl.stop();
        const away = 300 + Math.floor(opts.random() * 1200);
        await new Promise((r) => setTimeout(r, away));
        log(`outage ${k + 1}/${opts.kills} after ${delay} ms, ${away} ms long`);
      } else {
        await ctl.kill9();
        log(`kill ${k + 1}/${opts.kills} after ${delay} ms`);
      }
      await ctl.start();
    }
    clearInterval(sending);
    sending = undefined;
    await waitForValue(
      'outboxes drained',
      () => (devices.every((d) => d.outboxSize() === 0) ? true : undefined),
      60_000,
    );
    await Promise.all(devices.map((d) => d.close()));
    await ctl.stop();
    const stored = storedRequests(ctl.dataDir);
    let lost = 0;
    let doubled = 0;
    for (const d of devices) {
      const s = stored.get(d.id) ?? 0;
      if (s < d.sent.requests) lost += d.sent.requests - s;
      if (s > d.sent.requests) doubled += s - d.sent.requests;
    }
    const sent = {
      reports: devices.reduce((n, d) => n + d.sent.reports, 0),
      requests: devices.reduce((n, d) => n + d.sent.requests, 0),
    };
    return {
      kills: opts.kills,
      sent,
      stored: { requests: [...stored.values()].reduce((a, b) => a + b, 0) },
      lost,
      doubled,
    };
  } finally {
    if (sending) clearInterval(sending);
    await Promise.all(devices.map((d) => d.close().catch(() => undefined)));
    const p = (() => {
      try {
        return ctl.current();
      } catch {
        return undefined;
      }
    })();
    if (p && p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  }
}

export interface FloodResult {
  readonly name: string;
  readonly connections: number;
  readonly declaredBytes: number;
  readonly sentBytes: number;
  readonly closedEarly: number;
  readonly baseRss: number;
  readonly peakRss: number;
}

export const MiB = 1024 * 1024;

/**
 * The floods of issue 17 against a running controller: anonymous CONNECTs declaring `declared`
 * bytes each, and authenticated devices publishing telemetry of `declared` bytes. Peak RSS of
 * the controller process is sampled during each.
 */
export async function runFloods(
  ctl: ChaosController,
  opts: { connections: number; declared: number; random: () => number },
): Promise<FloodResult[]> {
  const pid = ctl.current().pid;
  const results: FloodResult[] = [];
  const measure = async (name: string, heads: Uint8Array[]) => {
    const { result, base, peak } = await peakDuring(pid, () =>
      Promise.all(heads.map((h) => rawFlood(ctl.brokerPort, h, opts.declared))),
    );
    results.push({
      name,
      connections: heads.length,
      declaredBytes: opts.declared,
      sentBytes: result.reduce((n, r) => n + r.sent, 0),
      closedEarly: result.filter((r) => r.closedEarly).length,
      baseRss: base,
      peakRss: peak,
    });
  };
  await measure(
    'pre-auth CONNECT',
    Array.from({ length: opts.connections }, () => connectHeader(opts.declared)),
  );
  // Authenticated devices: a real CONNECT, then a PUBLISH on their telemetry topic declaring
  // `declared` bytes, in the same stream.
  const heads: Uint8Array[] = [];
  for (let i = 0; i < opts.connections; i++) {
    const id = `flood-${Math.floor(opts.random() * 1e9).toString(36)}-${i}`;
    const secret = await ctl.enrol(id);
    heads.push(
      Uint8Array.from([
        ...connectPacket(id, secret),
        ...publishHeader(deviceTopic('telemetry', id), opts.declared),
      ]),
    );
  }
  await measure('device oversized PUBLISH', heads);
  return results;
}

/** An MQTT 3.1.1 CONNECT with username and password (section 3.1). */
export function connectPacket(clientId: string, password: string): Uint8Array {
  const str = (s: string) => {
    const b = Buffer.from(s);
    return [b.length >> 8, b.length & 0xff, ...b];
  };
  const body = [
    ...str('MQTT'),
    4, // protocol level 3.1.1
    0xc2, // username, password, clean session
    0,
    60, // keep alive
    ...str(clientId),
    ...str(clientId),
    ...str(password),
  ];
  return Uint8Array.from([0x10, ...varint(body.length), ...body]);
}
