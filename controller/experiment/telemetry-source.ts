// What experiments read from telemetry (the telemetry service, or the store behind it): the
// service's dependency, and the plan source's. A file of its own so neither imports the other.
import type { LatencySketch } from '../../shared/stats/sketch.js';
import type { TelemetryFilter } from '../telemetry/store.js';
import type { TelemetrySummary, TimelineBucket } from '../telemetry/summary.js';

type MaybePromise<T> = T | Promise<T>;

export interface ExperimentTelemetry {
  sketches(filter: TelemetryFilter): MaybePromise<Record<string, LatencySketch>>;
  query(filter: TelemetryFilter): MaybePromise<TelemetrySummary>;
  timeline(filter: TelemetryFilter, bucketMs: number): MaybePromise<readonly TimelineBucket[]>;
}
