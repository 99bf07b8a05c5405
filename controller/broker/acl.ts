// Who may do what on the embedded broker. Devices are authenticated by id + secret and limited
// to their own topics (shared/wire/topics.ts derives the rules from the topic table); the
// controller has its own identity; anonymous clients are refused at CONNECT.
import { deviceMayPublish, deviceMaySubscribe } from '../../shared/wire/topics.js';

export const CONTROLLER_USERNAME = 'bmfleet-controller';

/**
 * Client ids the controller's own connections use (`bmfleet-controller`, `-main`, `-data`...):
 * authenticate() gives any client id with this prefix to the controller, so a device named so
 * could never connect (or, on a broker matching case-insensitively, would collide with it).
 */
export function isReservedClientId(id: string): boolean {
  return id.toLowerCase().startsWith(CONTROLLER_USERNAME);
}

export type Principal =
  { readonly kind: 'controller' } | { readonly kind: 'device'; readonly id: string };

export interface Credentials {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
}

export interface AuthDeps {
  /** The device repository's answer (either store: awaited). */
  readonly authenticateDevice: (deviceId: string, secret: string) => boolean | Promise<boolean>;
  readonly controllerSecret: string;
}

/**
 * Decide who is connecting. A device must use its id as both client id and username, so that
 * one device's credentials cannot take over another device's session.
 */
export async function authenticate(c: Credentials, deps: AuthDeps): Promise<Principal | undefined> {
  if (!c.username || !c.password) return undefined;
  const secret = c.password.toString('utf8');
  if (c.username === CONTROLLER_USERNAME) {
    return timingSafeStringEqual(secret, deps.controllerSecret) &&
      c.clientId.startsWith(CONTROLLER_USERNAME)
      ? { kind: 'controller' }
      : undefined;
  }
  if (c.clientId !== c.username) return undefined;
  return (await deps.authenticateDevice(c.username, secret))
    ? { kind: 'device', id: c.username }
    : undefined;
}

function timingSafeStringEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export function mayPublish(p: Principal, topic: string): boolean {
  return p.kind === 'controller' || deviceMayPublish(p.id, topic);
}

export function maySubscribe(p: Principal, filter: string): boolean {
  return p.kind === 'controller' || deviceMaySubscribe(p.id, filter);
}
