// The request schemas of the dashboard's own routes (plugin.ts: sign-in, the read model under
// /ui/api) and the types of what they answer, so the typed API client (controller/api/client.ts)
// takes its dashboard methods from the same definitions the routes validate with.
import { Type } from '@sinclair/typebox';
import { VariantNameSchema } from '../../shared/ids.js';
import type { Role } from '../api/auth.js';
import type { DeviceHello } from '../../shared/wire/messages.js';
import type { DeviceRecord } from '../store/devices.js';
import type { DeviceEventRow } from '../devices/tracker.js';
import type { DeviceItem, FleetSummary, devicePage, telemetrySeries } from './queries.js';

export const SignInBody = Type.Object({ token: Type.String({ minLength: 1, maxLength: 4096 }) });
export const PageQuery = Type.Object({
  q: Type.Optional(Type.String({ maxLength: 200 })),
  state: Type.Optional(Type.String({ maxLength: 40 })),
  chip: Type.Optional(Type.String({ maxLength: 40 })),
  offset: Type.Integer({ minimum: 0, default: 0 }),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
});
export const SeriesQuery = Type.Object({
  device: Type.Optional(Type.String({ maxLength: 64 })),
  bundle: Type.Optional(Type.String({ maxLength: 64 })),
  variant: Type.Optional(VariantNameSchema),
  chip: Type.Optional(Type.String({ maxLength: 40 })),
  minutes: Type.Integer({ minimum: 1, maximum: 7 * 24 * 60, default: 60 }),
  buckets: Type.Integer({ minimum: 1, maximum: 120, default: 30 }),
});

/** A session as the browser sees it: its role and the CSRF token to send on every change. */
export interface SessionView {
  readonly role: Role;
  readonly csrf: string;
}
export type FleetView = FleetSummary & { readonly events: DeviceEventRow[] };
export type DevicePageView = ReturnType<typeof devicePage>;
export type TelemetrySeriesView = Awaited<ReturnType<typeof telemetrySeries>>;
export interface DeviceDetailView {
  readonly device: DeviceItem;
  readonly hello: DeviceHello | null;
  readonly state: DeviceRecord['state'];
  readonly events: DeviceEventRow[];
  readonly telemetry: TelemetrySeriesView;
}
