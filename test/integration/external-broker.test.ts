// The controller on an external broker: a real Mosquitto process (password file, the ACL that
// `bmfleet controller --mosquitto-acl` prints, a device listener with use_username_as_clientid),
// the controller and real agents on MQTT 5, devices enrolled over the REST API and started before
// their broker credentials exist, a real bundle rolled out until every agent serves it, telemetry
// counted at the controller, then a controller restart (reports queued in its persistent session)
// and a broker restart (everyone reconnects).
import t from 'tap';
import { parseDeviceId, type DeviceId } from '../../shared/ids.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { userInfo } from 'node:os';
import { PassThrough } from 'node:stream';
import mqtt from 'mqtt';
import { main as cli } from '../../cli/main.js';
import { createControllerClient, type ControllerClient } from '../../controller/api/client.js';
import { startFleet, type Fleet } from '../../demo/fleet.js';
import { encodeGoldenFile } from '../../agent/serve/golden-file.js';
import { buildBundle } from '../../shared/bundle/build.js';
import { signBundleDir } from '../../shared/bundle/dir.js';
import { createKeystore } from '../../shared/trust/keystore.js';
import { deviceTopic } from '../../shared/wire/topics.js';
import { waitForValue } from '../../harness/wait.js';
import {
  freePort,
  startTestController,
  tempDir,
  type TestController,
} from '../../harness/controller/test-controller.js';
import { goldenInputs, goldenSet, tinyBmodel } from '../../harness/agent/models.js';

const FIXTURES = new URL('../fixtures/integration/external-broker/', import.meta.url).pathname;
const DEVICES = 3;

async function findBinary(name: string): Promise<string | undefined> {
  // Debian installs the broker in /usr/sbin, which is not on every user's PATH.
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const path = join(dir, name);
    if (
      await access(path, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return path;
  }
  return undefined;
}

const mosquittoBin = await findBinary('mosquitto');
const passwdBin = await findBinary('mosquitto_passwd');
const missing = !mosquittoBin
  ? 'mosquitto is not installed (Debian: apt-get install mosquitto; .ci/run installs it)'
  : !passwdBin
    ? 'mosquitto_passwd is not installed (it ships in the mosquitto package)'
    : undefined;

function passwdTool(args: string[]): void {
  const r = spawnSync(passwdBin as string, args);
  if (r.status !== 0) throw new Error(`mosquitto_passwd: ${r.stderr.toString()}`);
}

interface Broker {
  readonly deviceUrl: string;
  readonly controllerUrl: string;
  /** Add or replace a user in the password file, then make the broker reload it (SIGHUP). */
  addUser(username: string, password: string): void;
  /**
   * Stop; stay down for at least `downMs` (clients meet refused connections) and until `whileDown`
   * resolved; start again.
   */
  restart(downMs: number, whileDown: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
  log(): string;
}

/**
 * Mosquitto in `dir`: devices on one listener where their username is also their client id,
 * the controller (two client ids under one username) on another; sessions and retained
 * messages persisted so that a restart keeps them.
 */
async function startMosquitto(
  dir: string,
  acl: string,
  controller: { username: string; password: string },
): Promise<Broker> {
  const [devicePort, controllerPort] = [await freePort(), await freePort()];
  const passwd = join(dir, 'passwd');
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(join(dir, 'acl'), acl);
  passwdTool(['-b', '-c', passwd, controller.username, controller.password]);
  await mkdir(join(dir, 'data'), { recursive: true });
  // Started as root, Mosquitto drops to the `mosquitto` user unless told to stay who it is.
  await chmod(dir, 0o755);
  await writeFile(
    conf,
    [
      'per_listener_settings false',
      'allow_anonymous false',
      `password_file ${passwd}`,
      `acl_file ${join(dir, 'acl')}`,
      `user ${userInfo().username}`,
      'persistence true',
      `persistence_location ${join(dir, 'data')}/`,
      'max_queued_messages 10000',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      `listener ${devicePort} 127.0.0.1`,
      'use_username_as_clientid true',
      `listener ${controllerPort} 127.0.0.1`,
      '',
    ].join('\n'),
  );
  let log = '';
  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);
  const launch = async () => {
    const c = spawn(mosquittoBin as string, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    await new Promise<void>((resolve, reject) => {
      c.stderr?.on('data', (d: Buffer) => {
        log += d.toString();
        if (/mosquitto version \S+ running/.test(log.slice(-400))) resolve();
      });
      c.once('exit', (code) => reject(new Error(`mosquitto exited ${code}:\n${log}`)));
    });
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM'); // saves the persistence file on the way out
    await exited;
  };
  await launch();
  return {
    deviceUrl: `mqtt://127.0.0.1:${devicePort}`,
    controllerUrl: `mqtt://127.0.0.1:${controllerPort}`,
    addUser(username, password) {
      passwdTool(['-b', passwd, username, password]);
      child?.kill('SIGHUP');
    },
    async restart(downMs, whileDown) {
      await stop();
      // A fault that needs a duration, not a wait for something: down long enough for every
      // client's reconnect timer (1 s) to meet the closed port.
      await Promise.all([new Promise((r) => setTimeout(r, downMs)), whileDown()]);
      log += '--- restart ---\n';
      await launch();
    },
    async stop() {
      await stop();
      process.off('exit', killOnExit);
    },
    log: () => log,
  };
}

/** `bmfleet controller --mosquitto-acl`, through the CLI dispatcher. */
async function generatedAcl(): Promise<string> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await cli({
    argv: ['controller', '--mosquitto-acl'],
    stdout,
    stderr: new PassThrough(),
    env: {},
  });
  if (code !== 0) throw new Error(`--mosquitto-acl exited ${code}`);
  return out;
}

/** The tiny simulator classifier with its golden set, signed with the controller's bundle key. */
async function makeTinyBundle(dataDir: string): Promise<{ dir: string; digest: string }> {
  const work = await tempDir('bmf-ext-bundle-');
  await writeFile(join(work, 'model.bmodel'), tinyBmodel('tiny-a'));
  await writeFile(join(work, 'golden.json'), encodeGoldenFile(goldenSet()));
  const out = join(work, 'bundle');
  await buildBundle({
    files: [
      { role: 'bmodel', source: join(work, 'model.bmodel') },
      { role: 'golden', source: join(work, 'golden.json') },
    ],
    partial: JSON.parse(await readFile(join(FIXTURES, 'partial-manifest.json'), 'utf8')),
    outDir: out,
    now: new Date(),
  });
  const { digest } = await signBundleDir(
    out,
    await createKeystore(join(dataDir, 'keys')).signers('bundle'),
  );
  return { dir: out, digest };
}

async function telemetryRequests(api: ControllerClient, id: DeviceId): Promise<number> {
  return (await api.telemetry.query({ device: id })).requests;
}

t.test('controller, agents and rollout on Mosquitto with MQTT 5', { skip: missing }, async (t) => {
  const dir = await tempDir('bmf-ext-');
  const controllerPassword = randomBytes(24).toString('base64url');
  const broker = await startMosquitto(dir, await generatedAcl(), {
    username: 'bmfleet-controller',
    password: controllerPassword,
  });
  t.teardown(() => broker.stop());

  const flags = {
    'broker.url': broker.controllerUrl,
    'broker.advertisedUrl': broker.deviceUrl,
    'broker.username': 'bmfleet-controller',
    'broker.password': controllerPassword,
    'broker.protocolVersion': 5,
  };
  let ctl: TestController | undefined = await startTestController(join(dir, 'controller'), flags);
  t.teardown(() => ctl?.handle.stop());
  const apiOf = (c: TestController) =>
    createControllerClient({ baseUrl: c.handle.apiUrl, token: c.token });
  let api = apiOf(ctl);

  // Enrol and start the agents from the configs the API returns; their broker users do not
  // exist yet, so Mosquitto refuses them until the operator adds them.
  const fleet: Fleet = await startFleet({
    api,
    count: DEVICES,
    stateRoot: join(dir, 'agents'),
    telemetryIntervalMs: 200,
  });
  t.teardown(() => fleet.stop());
  const ids = fleet.agents.map((a) => a.config.deviceId);
  for (const a of fleet.agents) {
    t.equal(a.config.broker.protocolVersion, 5, `${a.config.deviceId} told to use MQTT 5`);
    t.equal(a.config.broker.url, broker.deviceUrl, 'the advertised device listener');
  }
  const refusals = () => (broker.log().match(/disconnected, not authorised/g) ?? []).length;
  await waitForValue('every agent refused once', () => (refusals() >= DEVICES ? true : undefined));
  const early = { devices: await api.devices.list() };
  t.equal(
    early.devices.filter((d) => d.online).length,
    0,
    'no device online before its broker user exists',
  );
  for (const a of fleet.agents) broker.addUser(a.config.deviceId, a.config.broker.password ?? '');
  await waitForValue('every device online', async () => {
    const devices = await api.devices.list();
    return devices.filter((d) => d.online).length === DEVICES ? true : undefined;
  });
  t.pass('agents refused before their broker users existed connect once they do');

  const bundle = await makeTinyBundle(join(dir, 'controller'));
  await api.bundles.import(bundle.dir);
  const rollout = await api.rollouts.create({
    bundle: bundle.digest,
    filter: { chip: 'bm1684x' },
    groups: [{ count: 1 }, { percent: 100 }],
    deviceTimeoutMs: 30_000,
  });
  const done = await waitForValue(
    'rollout completed',
    async () => {
      const r = await api.rollouts.get(rollout.id);
      if (['paused', 'rolled_back', 'cancelled'].includes(r.status))
        throw new Error(`rollout ${r.status}`);
      return r.status === 'completed' ? r : undefined;
    },
    60_000,
  );
  t.same(
    done.groups.map((g) => g.counts),
    [{ active: 1 }, { active: DEVICES - 1 }],
    'every group active',
  );
  for (const a of fleet.agents) {
    t.equal(
      a.service.models()[0]?.bundleDigest,
      bundle.digest,
      `${a.config.deviceId} serves the bundle`,
    );
    const view = await api.devices.get(a.config.deviceId);
    t.equal(
      view.activeBundle,
      bundle.digest,
      `${a.config.deviceId} reported active to the controller`,
    );
  }

  await t.test('the broker enforces the generated ACL', async (t) => {
    const other = fleet.agents[1]?.config.deviceId ?? '';
    const enrolled = await api.devices.add({
      id: parseDeviceId('probe-1'),
      chip: 'bm1684x',
    });
    broker.addUser('probe-1', enrolled.secret);
    const creds = { username: 'probe-1', protocolVersion: 5 as const, reconnectPeriod: 0 };
    await t.rejects(
      mqtt.connectAsync(broker.deviceUrl, { ...creds, clientId: 'probe-1', password: 'wrong' }),
      { code: 135 },
      'a wrong password is refused (CONNACK 0x87)',
    );
    // Valid credentials with another device's client id: the device listener replaces the
    // client id with the username, so the other device keeps its connection and session.
    const probe = await waitForValue('probe connected', () =>
      mqtt
        .connectAsync(broker.deviceUrl, {
          ...creds,
          password: enrolled.secret,
          clientId: other,
          clean: true,
        })
        .catch(() => undefined),
    );
    t.teardown(() => probe.endAsync());
    await t.rejects(
      probe.publishAsync(deviceTopic('state', other), 'forged', { qos: 1 }),
      { code: 135 },
      "publishing on another device's topic is refused (PUBACK 0x87)",
    );
    const seen: string[] = [];
    probe.on('message', (topic) => seen.push(topic));
    await probe.subscribeAsync(deviceTopic('assignment', other), { qos: 1 });
    // Barrier: Mosquitto queues a subscription's retained messages while it handles the
    // SUBSCRIBE, so those of a later SUBSCRIBE (a marker retained on the probe's own assignment
    // topic) come after anything the refused one would have sent.
    const own = deviceTopic('assignment', parseDeviceId('probe-1'));
    const ctlClient = await mqtt.connectAsync(broker.controllerUrl, {
      clientId: 'bmfleet-controller-probe',
      username: 'bmfleet-controller',
      password: controllerPassword,
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    t.teardown(() => ctlClient.endAsync());
    await ctlClient.publishAsync(own, 'marker', { qos: 1, retain: true });
    await probe.subscribeAsync(own, { qos: 1 });
    await waitForValue('the marker at the probe', () => (seen.length > 0 ? true : undefined));
    t.same(seen, [own], "another device's retained assignment is never delivered");
    await probe.unsubscribeAsync(own);
    await ctlClient.publishAsync(own, '', { qos: 1, retain: true });
    t.match(broker.log(), /New client connected from \S+ as probe-1 /, 'client id = username');
    t.notMatch(broker.log(), new RegExp(`Client ${other} already connected`), 'no takeover');
  });

  const golden = goldenInputs();
  const infer = async (n: number) => {
    for (const a of fleet.agents)
      for (let i = 0; i < n; i++)
        await a.service.infer({
          kind: 'tensor',
          feeds: golden.inputs[i % golden.inputs.length] ?? {},
        });
  };
  const expectRequests = async (n: number, what: string) => {
    for (const id of ids) {
      await waitForValue(`${n} requests from ${id} (${what})`, async () =>
        (await telemetryRequests(api, id)) === n ? true : undefined,
      );
    }
    t.pass(`telemetry of ${n} requests per device reached the controller (${what})`);
  };
  await infer(5);
  await expectRequests(5, 'live');

  // Controller restart: reports the agents publish while it is down wait in its session.
  await ctl.handle.stop();
  ctl = undefined;
  await infer(3);
  for (const a of fleet.agents) {
    await a.telemetry().tick();
    await waitForValue(`${a.config.deviceId} outbox sent`, () =>
      a.telemetry().counts().pending === 0 ? true : undefined,
    );
  }
  ctl = await startTestController(join(dir, 'controller'), flags);
  api = apiOf(ctl);
  await expectRequests(8, 'published while the controller was down');

  // Broker restart: the controller survives its connection errors and both sides reconnect
  // (reports made while the broker is down wait in the agents' outboxes).
  await broker.restart(1500, async () => {
    await infer(1);
    for (const a of fleet.agents) {
      await a.telemetry().tick();
      await waitForValue(`${a.config.deviceId} holding a report while the broker is down`, () =>
        a.telemetry().counts().pending > 0 ? true : undefined,
      );
    }
  });
  await infer(1);
  await expectRequests(10, 'made while the broker was down and after the restart');
});
