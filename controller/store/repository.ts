// How the store's repositories answer. The embedded store (SQLite through better-sqlite3) answers
// synchronously; PostgreSQL (pg) answers with Promises. Each repository interface is written once,
// over the mode, so both implementations are checked against the same signatures:
// `DeviceEventRepo<'sync'>` is the SQLite one, `DeviceEventRepo<'async'>` the PostgreSQL one.
// Code that must run on either awaits every answer (awaiting a plain value is a no-op); code
// written against 'sync' keeps its same-tick read-after-write guarantees (docs/store.md).
export type StoreMode = 'sync' | 'async';

/** A value, or a Promise of it in the async mode. */
export type Answer<M extends StoreMode, T> = M extends 'sync' ? T : Promise<T>;
