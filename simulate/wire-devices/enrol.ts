// Enrolment of simulated devices through the controller's REST API, exactly as
// `bmfleet device add` enrols a board: POST /v1/devices returns the device's one-time secret,
// its agent config (broker URL and credentials) and the trust root to pin. Plain HTTP, no agent
// code: the lightweight simulator here and the real-agent simulator (simulate/) both use it.
import { bmfError } from '../../shared/errors.js';

export interface EnrolOptions {
  readonly controllerUrl: string;
  readonly token: string;
  readonly chip?: string;
  /** Added to every device (with `fleet=sim`). */
  readonly tags?: Readonly<Record<string, string>>;
  /** Enrolments in flight at once. */
  readonly concurrency?: number;
}

/** What both simulated fleets (simulate/wire-devices, simulate/) take: who, how many, where. */
export interface SimulatedFleetOptions extends EnrolOptions {
  readonly devices: number;
  readonly processes: number;
  readonly prefix?: string;
  /** First device number (several fleets against one controller). */
  readonly offset?: number;
  readonly onActive?: (id: string, bundle: string) => void;
  /** Devices started so far over all processes. */
  readonly onStarted?: (devices: number) => void;
}

/** What POST /v1/devices answered for one device. */
export interface Enrolment {
  readonly id: string;
  readonly secret: string;
  readonly agentConfig: Readonly<Record<string, unknown>> & {
    readonly broker: { url: string; failoverUrls?: readonly string[] };
  };
  readonly trustRoot: unknown;
}

/** `prefix-00000`, `prefix-00001`, ... from `offset` on (several fleets against one controller). */
export function simulatedDeviceIds(prefix: string, count: number, offset = 0): string[] {
  return Array.from(
    { length: count },
    (_, i) => `${prefix}-${String(offset + i).padStart(5, '0')}`,
  );
}

async function call<T>(
  o: EnrolOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<[number, T]> {
  let r: Response;
  try {
    r = await fetch(`${o.controllerUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${o.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
    throw bmfError('BMF_ERR_IO', {
      path: o.controllerUrl,
      reason: `controller unreachable: ${cause}`,
    });
  }
  return [r.status, (r.status === 204 ? undefined : await r.json()) as T];
}

/** Enrol one device; an earlier simulated device of the same name is replaced. */
export async function enrolDevice(o: EnrolOptions, id: string): Promise<Enrolment> {
  const body = { id, chip: o.chip ?? 'bm1684x', tags: { fleet: 'sim', ...(o.tags ?? {}) } };
  type Created = Omit<Enrolment, 'id'>;
  let [status, res] = await call<Created>(o, 'POST', '/v1/devices', body);
  if (status === 409) {
    await call(o, 'DELETE', `/v1/devices/${encodeURIComponent(id)}`);
    [status, res] = await call<Created>(o, 'POST', '/v1/devices', body);
  }
  if (status !== 201)
    throw bmfError('BMF_ERR_BAD_REQUEST', {
      reason: `enrol ${id}: HTTP ${status} ${JSON.stringify(res)}`,
    });
  return { id, secret: res.secret, agentConfig: res.agentConfig, trustRoot: res.trustRoot };
}

/** Enrol every id, `concurrency` at a time, in order. */
export async function enrolDevices(o: EnrolOptions, ids: readonly string[]): Promise<Enrolment[]> {
  const step = o.concurrency ?? 20;
  const out: Enrolment[] = [];
  for (let i = 0; i < ids.length; i += step) {
    out.push(...(await Promise.all(ids.slice(i, i + step).map((id) => enrolDevice(o, id)))));
  }
  return out;
}
