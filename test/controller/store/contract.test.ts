// One contract for every store implementation: each case runs against SQLite (the embedded
// store) and PostgreSQL (a throwaway server, skipped with the reason where the binaries are
// absent). Cases await every answer, so the same code drives the sync and the async repositories.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BundleManifest } from '../../../shared/bundle/manifest.js';
import type { ExperimentSpec, ExperimentState } from '../../../controller/experiment/model.js';
import {
  createAssignmentRepo,
  type AssignmentRepo,
} from '../../../controller/store/assignments.js';
import {
  createBundleRepo,
  type BundleRepo,
  type StoredBundle,
} from '../../../controller/store/bundles.js';
import { createCounters, type CounterRepo } from '../../../controller/store/counters.js';
import { openDatabase } from '../../../controller/store/db.js';
import {
  createDeviceEventRepo,
  type DeviceEventRepo,
} from '../../../controller/store/device-events.js';
import {
  createExperimentRepo,
  type ExperimentRepo,
} from '../../../controller/store/experiments.js';
import { createDeviceRepo, type DeviceRepo } from '../../../controller/store/devices.js';
import type { StoreMode } from '../../../controller/store/repository.js';
import { createRolloutRepo, type RolloutRepo } from '../../../controller/store/rollouts.js';
import type { RolloutSpec, RolloutState } from '../../../controller/rollout/model.js';
import {
  createTelemetryRepo,
  seenId,
  type TelemetryRepo,
} from '../../../controller/store/telemetry.js';
import { createSessionRepo, type SessionRepo } from '../../../controller/store/sessions.js';
import { pgMigrations } from '../../../controller/store/schema.js';
import { openPostgresStore } from '../../../controller/store/postgres/open.js';
import {
  pgAssignments,
  pgBundles,
  pgCounters,
  pgDeviceEvents,
  pgDevices,
  pgExperiments,
  pgRollouts,
  pgSessions,
  pgTelemetry,
} from '../../../controller/store/postgres/repos.js';
import { postgresSkip, startPostgres, type TestPostgres } from '../../../harness/postgres.js';
import { createManualClock } from '../../../shared/clock.js';
import { encodeMessage } from '../../../shared/wire/codec.js';
import type { TelemetryReport } from '../../../shared/wire/messages.js';
import {
  createTelemetryService,
  type TelemetryService,
} from '../../../controller/telemetry/service.js';
import { loadFixture } from '../../shared/wire/fixtures.js';

interface Stores {
  readonly counters: CounterRepo<StoreMode>;
  readonly deviceEvents: DeviceEventRepo<StoreMode>;
  readonly experiments: ExperimentRepo<StoreMode>;
  readonly assignments: AssignmentRepo<StoreMode>;
  readonly bundles: BundleRepo<StoreMode>;
  readonly telemetry: TelemetryRepo<StoreMode>;
  readonly rollouts: RolloutRepo<StoreMode>;
  readonly devices: DeviceRepo<StoreMode>;
  readonly sessions: SessionRepo<StoreMode>;
}

type Case = (t: Test, s: Stores) => Promise<void>;

const D1 = 'a'.repeat(64);
const D2 = 'ab'.repeat(32);

function bundle(digest: string, version: string, sequence: number): StoredBundle {
  const manifest = { name: 'm', version, sequence, files: [] } as unknown as BundleManifest;
  return {
    digest,
    model: 'm',
    version,
    sequence,
    precision: 'int8',
    chips: ['bm1684x'],
    manifest,
    envelope: new Uint8Array([0, 1, 2, 255]),
    createdAt: 1000 + sequence,
  };
}

const cases: Record<string, Case> = {
  async 'devices authenticate with their one secret; presence and state read back at once'(t, s) {
    const d = s.devices;
    const { secret } = await d.add('se7-01', 'bm1684x', { site: 'berlin' }, 1000);
    await d.add('se7-02', 'bm1684x', {}, 1001);
    t.equal(await d.authenticate('se7-01', secret), true);
    t.equal(await d.authenticate('se7-01', secret.slice(0, -1) + 'x'), false);
    t.equal(await d.authenticate('se7-02', secret), false);
    t.equal(await d.authenticate('nope', secret), false);
    const refused = async (p: () => unknown, code: string) =>
      t.rejects(Promise.resolve().then(p), { code }, code);
    await refused(() => d.add('se7-01', 'bm1684x', {}, 1), 'BMF_ERR_CONFLICT');
    await refused(() => d.add('bad/id', 'bm1684x', {}, 1), 'BMF_ERR_BAD_REQUEST');
    await refused(() => d.require('nope'), 'BMF_ERR_NOT_FOUND');
    t.same(await d.require('se7-01'), {
      id: 'se7-01',
      chip: 'bm1684x',
      tags: { site: 'berlin' },
      createdAt: 1000,
      lastSeen: null,
      online: false,
      state: null,
    });
    await d.setPresence('se7-01', true, 2000);
    await d.setState('se7-01', { assignmentSequence: 3 }, {}, 2500);
    t.match(await d.get('se7-01'), {
      online: true,
      lastSeen: 2500,
      state: { assignmentSequence: 3 },
    });
    await d.flush();
    t.match(await d.get('se7-01'), { online: true, lastSeen: 2500 }, 'the same once written');
    await d.markAllOffline();
    t.equal((await d.require('se7-01')).online, false);
    t.same(
      (await d.list()).map((x) => x.id),
      ['se7-01', 'se7-02'],
    );
    t.equal(await d.remove('se7-02'), true);
    t.equal(await d.remove('se7-02'), false);
    t.equal(await d.get('se7-02'), undefined);
  },

  async "a device's state follows the device's order of its reports, not the order of writes"(
    t,
    s,
  ) {
    const d = s.devices;
    await d.add('se7-01', 'bm1684x', {}, 1000);
    const status = async () => (await d.require('se7-01')).state?.status;
    // Each step twice: once while the write may be queued (SQLite writes behind), once written.
    for (const flushed of [false, true]) {
      const boot = flushed ? 'b2' : 'b1';
      const set = async (value: string, order: { bootId?: string; stateSeq?: number }) => {
        const stored = await d.setState('se7-01', { status: value }, order, 2000);
        if (flushed) await d.flush();
        return stored;
      };
      t.equal(await set('active', { bootId: boot, stateSeq: 5 }), true, 'a report of a new boot');
      t.equal(await set('syncing', { bootId: boot, stateSeq: 4 }), false, 'an older one: refused');
      t.equal(await status(), 'active', 'the older report changed nothing');
      t.equal(await set('active', { bootId: boot, stateSeq: 5 }), true, 'a duplicate is stored');
      t.equal(await status(), 'active', 'and leaves the same state');
      t.equal(await set('degraded', { bootId: boot, stateSeq: 6 }), true, 'the next one');
      t.equal(await status(), 'degraded');
    }
    await d.flush();
    t.equal(
      await d.setState('se7-01', { status: 'idle' }, { bootId: 'b3', stateSeq: 1 }, 3000),
      true,
      'a restart begins a new count: its first report replaces a higher count of the last boot',
    );
    t.equal(await status(), 'idle');
    t.equal(
      await d.setState('se7-01', { status: 'syncing' }, {}, 3100),
      true,
      'a report without an order (an earlier agent) is stored as it arrives',
    );
    t.equal(
      await d.setState('se7-01', { status: 'active' }, { bootId: 'b3', stateSeq: 1 }, 3200),
      true,
      'and the next ordered report after it too',
    );
    t.equal(await status(), 'active');
    t.equal(await d.setState('nope', { status: 'active' }, {}, 1), false, 'no such device');

    // Reports written all at once, in a shuffled order (two PostgreSQL connections race here).
    await d.add('se7-02', 'bm1684x', {}, 1000);
    const seqs = Array.from({ length: 40 }, (_, i) => i + 1).sort(
      (a, b) => ((a * 7919) % 41) - ((b * 7919) % 41),
    );
    await Promise.all(
      seqs.map((n) =>
        d.setState('se7-02', { status: 'active', n }, { bootId: 'r', stateSeq: n }, 4000 + n),
      ),
    );
    await d.flush();
    t.equal((await d.require('se7-02')).state?.n, 40, 'the highest sequence is what is stored');
  },

  async 'counters add up, one by one and in one batch'(t, s) {
    await s.counters.add('x');
    await s.counters.add('x', 4);
    await s.counters.addAll([
      ['y', 2],
      ['x', 1],
    ]);
    t.same(await s.counters.all(), { x: 6, y: 2 });
  },

  async 'device events page newest first, trim, prune, and find the last install failure'(t, s) {
    const ev = s.deviceEvents;
    const base = { deviceId: 'dev-1', severity: 'info', message: 'm' };
    await ev.insert({ ...base, at: 10, code: 'BMF_EVT_STARTED', details: {} });
    await ev.insert({ ...base, at: 20, code: 'BMF_ERR_VERIFY', details: { bundleDigest: D1 } });
    await ev.insert({ ...base, at: 30, code: 'BMF_ERR_OTHER', details: { bundleDigest: '' } });
    await ev.insert({ ...base, at: 40, code: 'BMF_EVT_ACTIVATED', details: { bundleDigest: D2 } });
    await ev.insert({
      ...base,
      deviceId: 'dev-2',
      at: 5,
      code: 'BMF_EVT_ROLLED_BACK',
      details: { bundleDigest: D2 },
    });
    const page = await ev.page('dev-1', Number.MAX_SAFE_INTEGER, 10);
    t.same(
      page.map((e) => e.at),
      [40, 30, 20, 10],
      'newest first',
    );
    t.same(page[2]?.details, { bundleDigest: D1 });
    t.same(
      (await ev.page('dev-1', page[1]!.id, 1)).map((e) => e.at),
      [20],
      'before an id',
    );
    t.same(
      (await ev.recent(2)).map((e) => [e.deviceId, e.at]),
      [
        ['dev-2', 5],
        ['dev-1', 40],
      ],
      'the whole fleet, newest (last recorded) first',
    );
    t.same(await ev.latestInstallFailure('dev-1'), { at: 20, code: 'BMF_ERR_VERIFY', bundle: D1 });
    t.same(await ev.latestInstallFailure('dev-2'), {
      at: 5,
      code: 'BMF_EVT_ROLLED_BACK',
      bundle: D2,
    });
    t.equal(await ev.latestInstallFailure('dev-3'), undefined);
    await ev.trim('dev-1', 2);
    t.same(
      (await ev.page('dev-1', Number.MAX_SAFE_INTEGER, 10)).map((e) => e.at),
      [40, 30],
    );
    t.equal(await ev.pruneBefore(35), 2, 'dev-1 at 30 and dev-2 at 5');
    t.same((await ev.page('dev-2', Number.MAX_SAFE_INTEGER, 10)).length, 0);
  },

  async 'experiments insert once, update their state, list oldest first'(t, s) {
    const spec = (id: string) => ({ id }) as unknown as ExperimentSpec;
    const state = (status: string) => ({ status, devices: ['d'] }) as unknown as ExperimentState;
    t.equal(await s.experiments.insert(spec('e2'), state('created'), 2), true);
    t.equal(await s.experiments.insert(spec('e1'), state('created'), 1), true);
    t.equal(await s.experiments.insert(spec('e1'), state('running'), 3), false, 'exists');
    await s.experiments.update('e1', state('running'), 4);
    t.same(await s.experiments.get('e1'), { spec: spec('e1'), state: state('running') });
    t.equal(await s.experiments.get('nope'), undefined);
    t.same(
      (await s.experiments.list()).map((r) => r.spec.id),
      ['e1', 'e2'],
    );
  },

  async 'assignments take the next sequence per device; a failed one writes nothing'(t, s) {
    const a = s.assignments;
    const make = (deviceId: string, max: number) => ({
      deviceId,
      sequence: max + 1,
      body: JSON.stringify({ n: max + 1 }),
      envelope: new Uint8Array([max + 1, 7]),
      createdAt: 100 + max,
    });
    const first = await a.appendEach(
      ['d1', 'd2', 'd1'],
      (d) => d,
      (d, max) => make(d, max),
    );
    t.same(
      first.map((r) => (r.ok ? [r.value.deviceId, r.value.sequence] : 'failed')),
      [
        ['d1', 1],
        ['d2', 1],
        ['d1', 2],
      ],
      'a second one for d1 in the same batch sees the first',
    );
    const second = await a.appendEach(
      ['d2', 'bad', 'd2'],
      (d) => d,
      (d, max) => {
        if (d === 'bad') throw new Error('signing failed');
        return make(d, max);
      },
    );
    t.same(
      second.map((r) => r.ok),
      [true, false, true],
    );
    t.match(second[1], { ok: false, error: { message: 'signing failed' } });
    const latest = await a.latest('d2');
    t.equal(latest?.sequence, 3);
    t.same([...(latest?.envelope ?? [])], [3, 7], 'bytes round-trip');
    t.equal(await a.latest('bad'), undefined);
    t.same(
      (await a.latestPerDevice()).map((r) => [r.deviceId, r.sequence]),
      [
        ['d1', 2],
        ['d2', 3],
      ],
    );
  },

  async 'bundles, their model and blobs are stored together and read back the same'(t, s) {
    const b = s.bundles;
    await b.insert(bundle(D1, '1.0.0', 1), [{ sha256: 'f'.repeat(64), size: 42 }]);
    await b.insert(bundle(D2, '1.1.0', 2), [{ sha256: 'f'.repeat(64), size: 42 }]);
    t.same(await b.get(D1), bundle(D1, '1.0.0', 1), 'every field, bytes included');
    t.equal(await b.get('0'.repeat(64)), undefined);
    t.same(
      (await b.list()).map((x) => x.digest),
      [D1, D2],
    );
    t.same((await b.list('other')).length, 0);
    t.same(await b.models(), [{ name: 'm', createdAt: 1001, bundles: 2 }]);
    t.equal((await b.latestOf('m'))?.digest, D2);
    t.same(await b.digestsStartingWith('a', 21), [D2, D1].sort());
    t.same(await b.digestsStartingWith('ab', 21), [D2]);
    t.same(
      (await b.sameVersionOrSequence('m', '1.0.0', 2)).map((x) => x.digest).sort(),
      [D1, D2].sort(),
    );
    t.equal(await b.blobSize('f'.repeat(64)), 42);
    t.equal(await b.blobSize('e'.repeat(64)), undefined);
    await t.rejects(
      Promise.resolve().then(() => b.insert(bundle(D1, '9', 9), [])),
      'a digest is stored once',
    );
    t.equal((await b.list()).length, 2, 'nothing stored by the refused insert');
  },

  async 'telemetry batches write rows, seen keys and counters together'(t, s) {
    const m = (minute: number, deviceId: string, requests: number) => ({
      minute,
      deviceId,
      bundle: D1,
      variant: 'A',
      requests,
      errors: 1,
      counters: '{"ok":1}',
      sketches: new Uint8Array([requests, 9]),
    });
    await s.telemetry.writeBatch({
      minutes: [m(60_000, 'd1', 3), m(120_000, 'd1', 4), m(120_000, 'd2', 5)],
      seen: [
        { deviceId: 'd1', key: 'k1', intervalStart: 60_000 },
        { deviceId: 'd1', key: 'k2', intervalStart: 120_000 },
      ],
      counters: { 'telemetry.duplicates': 2 },
    });
    await s.telemetry.writeBatch({
      minutes: [m(60_000, 'd1', 7)],
      seen: [{ deviceId: 'd1', key: 'k1', intervalStart: 60_000 }],
      counters: { 'telemetry.duplicates': 1 },
    });
    t.same(await s.telemetry.getMinute(m(60_000, 'd1', 0)), m(60_000, 'd1', 7), 'replaced whole');
    t.same(await s.counters.all(), { 'telemetry.duplicates': 3 });
    t.same(await s.telemetry.seenKeys('d1', 10), ['k1', 'k2'], 'oldest first, once each');
    t.same(await s.telemetry.seenKeys('d1', 1), ['k2'], 'the newest');
    const sel = await s.telemetry.selectMinutes(
      { fromMinute: 0, toMs: 180_000, deviceIds: ['d2'] },
      false,
    );
    t.same(
      sel,
      [{ ...m(120_000, 'd2', 5), sketches: undefined }].map(({ sketches: _, ...r }) => r),
    );
    const all = await s.telemetry.selectMinutes(
      { fromMinute: 120_000, toMs: 180_000, bundle: D1, variant: 'A' },
      true,
    );
    t.same(all.map((r) => [r.deviceId, r.requests, [...(r.sketches ?? [])]]).sort(), [
      ['d1', 4, [4, 9]],
      ['d2', 5, [5, 9]],
    ]);
    t.equal(await s.telemetry.firstMinute(['d2'], D1, 0), 120_000);
    t.equal(await s.telemetry.firstMinute(['d3'], D1, 0), undefined);
    t.equal(await s.telemetry.pruneMinutes(120_000), 1);
    t.equal(await s.telemetry.pruneSeen(120_000), 1);
    t.same(await s.telemetry.seenKeys('d1', 10), ['k2']);
  },

  async 'telemetry added batches sum into stored rows and skip reports stored before'(t, s) {
    // Sketches stand in as one byte per sample; the merge appends them, counters add up.
    const delta = (minute: number, deviceId: string, requests: number) => ({
      minute,
      deviceId,
      bundle: D1,
      variant: 'A',
      requests,
      errors: 1,
      counters: JSON.stringify({ n: requests }),
      sketches: new Uint8Array(requests).fill(requests),
      mergeInto: (stored: { counters: string; sketches?: Uint8Array }) => ({
        counters: JSON.stringify({
          n: (JSON.parse(stored.counters) as { n: number }).n + requests,
        }),
        sketches: new Uint8Array([
          ...(stored.sketches ?? []),
          ...new Uint8Array(requests).fill(requests),
        ]),
      }),
    });
    const seen = (deviceId: string, key: string) => ({ deviceId, key, intervalStart: 60_000 });
    const freshSeen: string[][] = [];
    const batch = (
      keys: string[],
      rows: (fresh: ReadonlySet<string>) => ReturnType<typeof delta>[],
    ) => ({
      seen: keys.map((k) => seen('d1', k)),
      build: (fresh: ReadonlySet<string>) => {
        freshSeen.push([...fresh].sort());
        return { minutes: rows(fresh), counters: { 'telemetry.batches': 1 } };
      },
    });
    t.equal(await s.telemetry.addBatch(batch(['k1', 'k2'], () => [delta(60_000, 'd1', 2)])), 2);
    t.equal(
      await s.telemetry.addBatch(
        batch(['k2', 'k3'], (fresh) =>
          fresh.has(seenId('d1', 'k3')) ? [delta(60_000, 'd1', 3), delta(60_000, 'd2', 1)] : [],
        ),
      ),
      1,
      'k2 was stored before: one fresh key',
    );
    t.same(freshSeen, [[seenId('d1', 'k1'), seenId('d1', 'k2')], [seenId('d1', 'k3')]]);
    const row = await s.telemetry.getMinute({
      minute: 60_000,
      deviceId: 'd1',
      bundle: D1,
      variant: 'A',
    });
    t.same(
      row && {
        requests: row.requests,
        errors: row.errors,
        counters: row.counters,
        sketches: [...(row.sketches ?? [])],
      },
      { requests: 5, errors: 2, counters: '{"n":5}', sketches: [2, 2, 3, 3, 3] },
      'the second batch added to the stored row',
    );
    t.equal(
      (await s.telemetry.getMinute({ minute: 60_000, deviceId: 'd2', bundle: D1, variant: 'A' }))
        ?.requests,
      1,
    );
    t.same(await s.counters.all(), { 'telemetry.batches': 2 });
    await t.rejects(
      Promise.resolve().then(() =>
        s.telemetry.addBatch({
          seen: [seen('d1', 'k4')],
          build: () => {
            throw new Error('build failed');
          },
        }),
      ),
      /build failed/,
    );
    t.same(
      (await s.telemetry.seenKeys('d1', 10)).sort(),
      ['k1', 'k2', 'k3'],
      'a failed batch stores no key',
    );
  },

  async 'telemetry stores the requests no model answered and shows them beside the bundle ones'(
    t,
    s,
  ) {
    // The wire fixture carries failed_before_model {A: 2 requests, 2 errors}; a report of an
    // agent before that field carries none. Two flushes: the second sums into the stored row.
    const fixture = loadFixture('TelemetryReport') as TelemetryReport;
    const report = (seq: number, failed: boolean): Uint8Array => {
      const { failedBeforeModel, ...rest } = fixture;
      // A report is known by its interval: each starts 10 s after the one before (one minute).
      const intervalStartMs = fixture.intervalStartMs + (seq - 1) * 10_000;
      return encodeMessage('TelemetryReport', {
        ...rest,
        reportSequence: seq,
        intervalStartMs,
        intervalEndMs: intervalStartMs + 10_000,
        ...(failed && failedBeforeModel && { failedBeforeModel }),
      });
    };
    const clock = createManualClock(0, fixture.intervalEndMs + 60_000);
    const service = (): TelemetryService =>
      createTelemetryService({
        store: s.telemetry,
        clock,
        flushIntervalMs: 0,
        pruneIntervalMs: 0,
      });
    const writer = service();
    t.equal(writer.ingest(fixture.deviceId, report(1, true)), 'accepted');
    await writer.flush();
    t.equal(writer.ingest(fixture.deviceId, report(2, true)), 'accepted');
    t.equal(writer.ingest(fixture.deviceId, report(3, false)), 'accepted');
    await writer.close();
    // A fresh service reads the store alone.
    const reader = service();
    t.teardown(() => reader.close());
    const range = { fromMs: fixture.intervalStartMs, toMs: fixture.intervalEndMs + 120_000 };
    const all = await reader.query(range);
    t.same(
      all.failedBeforeModel,
      { A: { requests: 4, errors: 4, errorsByCode: { BMF_ERR_INTERNAL: 4 } } },
      'summed over the reports that carried them',
    );
    t.equal(all.requests, 3 * fixture.counters.requests, "the bundle's requests stay its own");
    t.equal(all.errors, 3 * fixture.counters.errors);
    const other = await reader.query({ ...range, bundle: D1 });
    t.same(other.failedBeforeModel, {}, 'a bundle that carried none shows none');
  },

  async 'rollouts keep their spec, replace their state with its events atomically'(t, s) {
    const r = s.rollouts;
    const spec = (id: string) => ({ id }) as unknown as RolloutSpec;
    const state = (status: string, updatedAt: number) =>
      ({ status, updatedAt, groups: [] }) as unknown as RolloutState;
    await r.create(spec('r1'), state('running', 1), 1);
    await r.create(spec('r2'), state('paused', 2), 2);
    await t.rejects(
      Promise.resolve().then(() => r.create(spec('r1'), state('running', 3), 3)),
      { code: 'BMF_ERR_CONFLICT' },
    );
    await t.rejects(
      Promise.resolve().then(() => r.require('nope')),
      { code: 'BMF_ERR_NOT_FOUND' },
    );
    t.equal(await r.get('nope'), undefined);
    await r.save('r1', state('running', 5), [
      { type: 'group_started', message: 'go' },
      { type: 'device_failed', message: 'ok', deviceId: 'd1' },
    ]);
    t.same(await r.require('r1'), { spec: spec('r1'), state: state('running', 5), createdAt: 1 });
    t.same(
      (await r.list()).map((x) => x.spec.id),
      ['r2', 'r1'],
      'newest first',
    );
    t.same(
      (await r.running()).map((x) => x.spec.id),
      ['r1'],
    );
    const ev = await r.events('r1');
    t.same(
      ev.map((e) => [e.at, e.type, e.deviceId, e.message]),
      [
        [5, 'group_started', null, 'go'],
        [5, 'device_failed', 'd1', 'ok'],
      ],
    );
    t.same((await r.events('r1', ev[0]!.id)).length, 1, 'after an id');
    t.same((await r.events('r1', 0, 1)).length, 1, 'limited');
  },

  async 'sessions: found by id digest until they expire, capped oldest first, removed on sign-out'(
    t,
    s,
  ) {
    const r = s.sessions;
    const session = (n: number, expiresAt: number) => ({
      idHash: String(n).padStart(64, '0'),
      role: n % 2 ? ('operator' as const) : ('viewer' as const),
      csrf: `csrf-${n}`,
      createdAt: 1000 + n,
      expiresAt,
    });
    await r.insert(session(1, 5000), 1001, 10);
    t.same(await r.get(session(1, 0).idHash, 4999), session(1, 5000), 'read back whole');
    t.equal(await r.get(session(1, 0).idHash, 5000), undefined, 'expired at its expiry time');
    t.equal(await r.get('f'.repeat(64), 1001), undefined, 'unknown');
    // Creating sessions deletes the expired ones and keeps the newest `max`.
    await r.insert(session(2, 9000), 6000, 10);
    t.equal(await r.get(session(1, 0).idHash, 0), undefined, 'the expired row was deleted');
    for (const n of [3, 4, 5]) await r.insert(session(n, 9000), 6000, 3);
    t.equal(await r.get(session(2, 0).idHash, 6000), undefined, 'the oldest went beyond the cap');
    for (const n of [3, 4, 5]) t.ok(await r.get(session(n, 0).idHash, 6000), `session ${n} kept`);
    await r.remove(session(4, 0).idHash);
    t.equal(await r.get(session(4, 0).idHash, 6000), undefined, 'signed out');
    t.ok(await r.get(session(5, 0).idHash, 6000), 'the others stay');
    await t.rejects(
      Promise.resolve().then(() => r.insert(session(5, 9000), 6000, 10)),
      'the same id twice is refused (ids are random: a clash is a bug)',
    );
  },
};

const dir = mkdtempSync(join(tmpdir(), 'bmf-store-contract-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('sqlite', async (t) => {
  let n = 0;
  for (const [name, run] of Object.entries(cases)) {
    await t.test(name, async (t) => {
      const db = openDatabase(join(dir, `c${++n}.db`));
      t.teardown(() => db.close());
      await run(t, {
        counters: createCounters(db),
        deviceEvents: createDeviceEventRepo(db),
        experiments: createExperimentRepo(db),
        assignments: createAssignmentRepo(db),
        bundles: createBundleRepo(db),
        telemetry: createTelemetryRepo(db),
        rollouts: createRolloutRepo(db),
        devices: createDeviceRepo(db),
        sessions: createSessionRepo(db),
      });
    });
  }
});

const skip = postgresSkip();
t.test('postgres', skip ? { skip } : {}, async (t) => {
  const server: TestPostgres = await startPostgres(t);
  for (const [name, run] of Object.entries(cases)) {
    await t.test(name, async (t) => {
      const store = await openPostgresStore(await server.newDatabase(), { max: 2 });
      t.teardown(() => store.close());
      await run(t, {
        counters: pgCounters(store),
        deviceEvents: pgDeviceEvents(store),
        experiments: pgExperiments(store),
        assignments: pgAssignments(store),
        bundles: pgBundles(store),
        telemetry: pgTelemetry(store),
        rollouts: pgRollouts(store),
        devices: pgDevices(store),
        sessions: pgSessions(store),
      });
    });
  }
  await t.test('migrations run once: a second open finds the schema current', async (t) => {
    const url = await server.newDatabase();
    const a = await openPostgresStore(url, { max: 1 });
    const b = await openPostgresStore(url, { max: 1 });
    const v = await b.pool.query<{ version: number }>('SELECT version FROM schema_version');
    t.same(v.rows, [{ version: pgMigrations.length }]);
    await Promise.all([a.close(), b.close()]);
  });
});

t.test(
  'a bad store URL and an unreachable store are typed errors, the password not shown',
  async (t) => {
    for (const url of ['not a url', 'mysql://u:secret@h/db', 'postgres://u:secret@/db']) {
      await t.rejects(openPostgresStore(url), { code: 'BMF_ERR_STORE_URL' }, url);
      await openPostgresStore(url).catch((e: Error) => t.notMatch(e.message, /secret/, 'redacted'));
    }
    // A socket directory with no server in it: refused at once, no network involved.
    const url = `postgresql://u:secret@localhost/db?host=${encodeURIComponent(dir)}`;
    const e = await openPostgresStore(url, { connectTimeoutMs: 5000 }).catch((e: unknown) => e);
    t.match(e, { code: 'BMF_ERR_STORE_UNREACHABLE' });
    t.notMatch((e as Error).message, /secret/, 'redacted');
  },
);
