// Events devices report (and command acks), newest first per device, kept under a retention age
// and a per-device count.
import type { Db } from './db.js';
import type { Answer, StoreMode } from './repository.js';

export interface DeviceEventRow {
  readonly id: number;
  readonly deviceId: string;
  readonly at: number;
  readonly severity: string;
  readonly code: string;
  readonly message: string;
  readonly details: Record<string, string>;
}

export type NewDeviceEvent = Omit<DeviceEventRow, 'id'>;

/** The newest install failure a device reported (an error event, or a rollback, naming a bundle). */
export interface InstallFailureRow {
  readonly at: number;
  readonly code: string;
  readonly bundle: string;
}

export interface DeviceEventRepo<M extends StoreMode = 'sync'> {
  insert(e: NewDeviceEvent): Answer<M, void>;
  /** Keep only the newest `keep` events of the device. */
  trim(deviceId: string, keep: number): Answer<M, void>;
  /** Delete events recorded before `at`; returns how many. */
  pruneBefore(at: number): Answer<M, number>;
  /** Newest first, ids below `before`. */
  page(deviceId: string, before: number, limit: number): Answer<M, DeviceEventRow[]>;
  /** The newest events of the whole fleet, newest first. */
  recent(limit: number): Answer<M, DeviceEventRow[]>;
  latestInstallFailure(deviceId: string): Answer<M, InstallFailureRow | undefined>;
}

interface Row {
  id: number;
  device_id: string;
  at: number;
  severity: string;
  code: string;
  message: string;
  details: string;
}

export const toDeviceEventRow = (r: Row): DeviceEventRow => ({
  id: Number(r.id),
  deviceId: r.device_id,
  at: Number(r.at),
  severity: r.severity,
  code: r.code,
  message: r.message,
  details: JSON.parse(r.details) as Record<string, string>,
});

export function createDeviceEventRepo(db: Db): DeviceEventRepo<'sync'> {
  const q = {
    insert: db.prepare(
      'INSERT INTO device_events(device_id, at, severity, code, message, details) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    page: db.prepare(
      'SELECT * FROM device_events WHERE device_id = ? AND id < ? ORDER BY id DESC LIMIT ?',
    ),
    recent: db.prepare('SELECT * FROM device_events ORDER BY id DESC LIMIT ?'),
    pruneOld: db.prepare('DELETE FROM device_events WHERE at < ?'),
    trim: db.prepare(
      `DELETE FROM device_events WHERE device_id = ? AND id <= (
         SELECT id FROM device_events WHERE device_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
    ),
    failure: db.prepare(
      "SELECT at, code, json_extract(details, '$.bundleDigest') AS bundle FROM device_events WHERE device_id = ? AND json_extract(details, '$.bundleDigest') != '' AND (code LIKE 'BMF\\_ERR\\_%' ESCAPE '\\' OR code = 'BMF_EVT_ROLLED_BACK') ORDER BY id DESC LIMIT 1",
    ),
  };
  return {
    insert(e) {
      q.insert.run(e.deviceId, e.at, e.severity, e.code, e.message, JSON.stringify(e.details));
    },
    trim(deviceId, keep) {
      q.trim.run(deviceId, deviceId, keep);
    },
    pruneBefore(at) {
      return q.pruneOld.run(at).changes;
    },
    page(deviceId, before, limit) {
      return (q.page.all(deviceId, before, limit) as Row[]).map(toDeviceEventRow);
    },
    recent(limit) {
      return (q.recent.all(limit) as Row[]).map(toDeviceEventRow);
    },
    latestInstallFailure(deviceId) {
      return q.failure.get(deviceId) as InstallFailureRow | undefined;
    },
  };
}
